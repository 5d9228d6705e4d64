/// The shared task board: statuses, atomic claims, dependencies, revisions and push. Built in a later issue on the Bus.
///
/// This target exists so the package has the design card's folders from the start;
/// it holds no behaviour yet and no service is registered for it.
public enum BttaskPart {
    public static let serviceName = "bttask"
}
