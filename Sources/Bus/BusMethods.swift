import SwiftProtobuf

/// The methods every service's runtime serves beside its own (docs/PROTOCOL.md).
public enum BusMethods {
    /// Served by every service; `service` names none in particular.
    public static let anyService = ""

    public static let ping = Method<Google_Protobuf_Empty, Agor_Bus_V1_PingReply>(
        anyService, "bus.ping", .read, summary: "the service's name, uptime and pid, and the caller's principal")
    public static let backup = Method<Agor_Bus_V1_BackupRequest, Agor_Bus_V1_BackupReply>(
        anyService, "bus.backup", .change, roles: [.operator_], summary: "a consistent copy of the service's database")
    public static let replay = Method<Agor_Bus_V1_ReplayRequest, Agor_Bus_V1_ReplayReply>(
        anyService, "bus.replay", .read, summary: "a stream's events after a sequence number")
    public static let heads = Method<Agor_Bus_V1_HeadsRequest, Agor_Bus_V1_HeadsReply>(
        anyService, "bus.heads", .read, summary: "the newest sequence number of each stream under a prefix")

    /// Every method above, for docs and tests.
    public static let all: [any MethodDescription] = [
        ping, backup, replay, heads,
    ]
}
