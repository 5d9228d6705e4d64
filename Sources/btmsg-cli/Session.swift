import AgorCLI
import BtmsgAPI
import Bus
import Foundation
import SwiftProtobuf

/// Resolving what people type into the full ids the wire takes.
extension ServiceSession {
    /// Message ids: a full id as is; a prefix only when exactly one message you may see has it.
    func resolveMessage(_ text: String) async throws -> String {
        let prefix = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).lowercased()
        if RequestChecks.isFullId(prefix) { return prefix }
        var request = Agor_Btmsg_V1_ResolveRequest()
        request.prefix = prefix
        let reply = try await call(BtmsgMethods.resolve, request)
        switch reply.ids.count {
        case 0: throw Failure(.notFound, "no message starting with \(prefix) that you may read")
        case 1: return reply.ids[0]
        default:
            throw Failure(.badInput, "ambiguous id \(prefix): \(reply.ids.count) candidates: \(reply.ids.joined(separator: ", "))")
        }
    }

    /// Channels: by name (without '#') or id prefix, among the channels of your groups only.
    func resolveChannel(_ text: String, group: String?) async throws -> Agor_Btmsg_V1_Channel {
        let key = text.hasPrefix("#") ? String(text.dropFirst()) : text
        var request = Agor_Btmsg_V1_ChannelListRequest()
        request.group = group ?? ""
        let channels = try await call(BtmsgMethods.channelList, request).channels
        var matches = channels.filter { $0.name == key }
        if matches.isEmpty && key.count >= 4 { matches = channels.filter { $0.id.hasPrefix(key.lowercased()) } }
        switch matches.count {
        case 0: throw Failure(.notFound, "no channel \(key) in your groups" + (group.map { " (group \($0))" } ?? ""))
        case 1: return matches[0]
        default:
            let names = matches.map { "#\($0.name) [\($0.id.prefix(8))] in \($0.group)" }
            throw Failure(.badInput, "ambiguous channel \(key): \(names.joined(separator: ", ")); name the group with --group")
        }
    }
}
