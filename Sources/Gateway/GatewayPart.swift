/// The authenticated HTTP + WebSocket door for browsers and scripts. Built in a later issue on Hummingbird.
///
/// This target exists so the package has the design card's folders from the start;
/// it holds no behaviour yet and no service is registered for it.
public enum GatewayPart {
    public static let serviceName = "gateway"
}
