import Bus
import SwiftProtobuf

/// The collector's one sequenced stream, `diag/health`: "service.up" and "service.down" events
/// hold a `ServiceState`, "link" events a `LinkRecord`.
public enum DiagnosticsEvents: EventFamily {
    public static let service = DiagnosticsAPI.service
    public static let streamPrefix = "diag/health"
    /// The unsequenced topic of the collector's live figures (once a second).
    public static let figuresTopic = "diag/figures"
    public static func body(type: String, bytes: [UInt8]) -> (any SwiftProtobuf.Message)? {
        type == "link" ? try? Agor_Diagnostics_V1_LinkRecord(serializedBytes: bytes)
                       : try? Agor_Diagnostics_V1_ServiceState(serializedBytes: bytes)
    }
}
