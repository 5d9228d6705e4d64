/// Collects the health of every Bus link: drops, reconnections, latency histograms, buffer fill. Built in a later issue.
///
/// This target exists so the package has the design card's folders from the start;
/// it holds no behaviour yet and no service is registered for it.
public enum DiagnosticsPart {
    public static let serviceName = "diagnostics"
}
