import BtmsgAPI
import Bus
import Foundation
import GRDB

/// Sending, reading and acknowledging messages.
extension BtmsgService {
    func registerMessaging() {
        let directory = self.directory, database = self.database, publisher = self.publisher

        // btmsg.send SendRequest -> SendReply. Acknowledged after commit; a repeated request id
        // returns the first reply (also after a restart: the dedup record is in the same commit).
        // Served on the ROUTER's thread in the service's writer loop (RPCServer.registerWrite).
        handleWrite(BtmsgMethods.send) { context, request in
            let sender = context.principal
            guard !request.body.isEmpty else { throw BusError.badRequest("the message body is empty") }
            guard request.body.utf8.count <= BtmsgRules.maxBodyBytes else {
                throw BusError.tooLarge("the message body is over \(BtmsgRules.maxBodyBytes) bytes")
            }
            guard request.to.isEmpty != request.channelID.isEmpty else {
                throw BusError.badRequest("name exactly one of `to` (a principal) or `channel_id`")
            }
            if !request.replyTo.isEmpty { try RequestChecks.requireFullId(request.replyTo, "reply_to") }
            guard request.importance.rawValue >= 0 && request.importance.rawValue <= 3 else {
                throw BusError.badRequest("unknown importance \(request.importance.rawValue)")
            }
            var message = Agor_Btmsg_V1_Message()
            message.sender = sender.name
            message.body = request.body
            message.replyTo = request.replyTo
            message.importance = request.importance
            message.ackRequired = request.ackRequired

            enum Target: Sendable { case direct(Principal, BtmsgRules.ContactReason?), channel(String) }
            let target: Target
            if !request.to.isEmpty {
                guard let recipient = directory.principal(named: request.to) else {
                    throw BusError.notFound("unknown principal \(request.to)")
                }
                guard recipient.name != sender.name else { throw BusError.badRequest("a message to yourself") }
                guard recipient.kind != .service else { throw BusError.badRequest("\(recipient.name) is a service, not a person or agent") }
                message.group = try BtmsgRules.groupForDirectMessage(sender: sender, recipient: recipient, named: request.group)
                message.recipient = recipient.name
                target = .direct(recipient, BtmsgRules.roleAllows(sender: sender, recipient: recipient))
            } else {
                try RequestChecks.requireFullId(request.channelID, "channel_id")
                message.channelID = request.channelID
                target = .channel(request.channelID)
            }
            let connection = context.sender, requestId = context.requestId, prepared = message
            return { db, events in
                try RequestDedup.once(db, principal: sender.name, requestId: requestId) {
                    var m = prepared
                    switch target {
                    case .direct(let recipient, let reason):
                        if reason == nil {
                            guard try MessageStore.hasContact(db, from: sender.name, to: recipient.name, group: m.group)
                                || MessageStore.hasWritten(db, from: recipient.name, to: sender.name, group: m.group) else {
                                throw BusError.forbidden("\(sender.name) may not message \(recipient.name): not a contact (ask an operator: btmsg allow)")
                            }
                        }
                    case .channel(let id):
                        guard let channel = try MessageStore.channel(db, id: id) else { throw BusError.notFound("no channel \(id)") }
                        guard sender.isMember(of: channel.group) else {
                            throw BusError.forbidden("channel #\(channel.name) is not in a group of \(sender.name)")
                        }
                        let member = try MessageStore.isMember(db, channel: id, principal: sender.name)
                        guard BtmsgRules.channelAccess(principal: sender, group: channel.group, system: channel.system, isMember: member)
                            || BtmsgRules.delegatedReviewPost(sender: connection, principal: sender, group: channel.group,
                                                              channelName: channel.name, system: channel.system) else {
                            throw BusError.forbidden("\(sender.name) is not a member of #\(channel.name)")
                        }
                        m.group = channel.group
                        m.channelName = channel.name
                    }
                    if !m.replyTo.isEmpty {
                        guard let (parent, _) = try MessageStore.message(db, id: m.replyTo, for: sender.name), parent.group == m.group else {
                            throw BusError.notFound("reply_to: no message \(m.replyTo) in group \(m.group)")
                        }
                    }
                    m.id = RandomID.uuid()
                    m.createdAtUs = BusProtocol.nowMicros()
                    try MessageStore.insert(db, m)
                    var event = Agor_Btmsg_V1_Event()
                    event.messageCreated = m
                    event.messageCreated.body = ""
                    try events.append(stream: BtmsgRules.stream(of: m.group), type: "message.created", body: try event.serializedBytes())
                    var reply = Agor_Btmsg_V1_SendReply()
                    reply.message = m
                    return try reply.serializedBytes()
                }
            }
        }

        /// Fetches a message the caller may read; `mark` records read or ack for an addressed one.
        @Sendable func fetch(_ context: RequestContext, _ ref: Agor_Btmsg_V1_MessageRef, mark: Bool, ack: Bool) async throws -> Agor_Btmsg_V1_Message {
            try RequestChecks.requireFullId(ref.id, "id")
            let principal = context.principal
            let work: @Sendable (Database, inout EventBatchWriter?) throws -> Agor_Btmsg_V1_Message = { db, events in
                let viewer = try Viewer(db, principal: principal)
                guard let (message, seq) = try MessageStore.message(db, id: ref.id, for: principal.name), viewer.canRead(message) else {
                    throw BusError.notFound("no message \(ref.id) that \(principal.name) may read")
                }
                var m = message
                if mark, var writer = events {
                    guard viewer.isAddressed(message) else {
                        // Your own message: shown, never marked; acknowledging it is refused.
                        if ack { throw BusError.forbidden("message \(ref.id) is not addressed to \(principal.name)") }
                        return m
                    }
                    let at = BusProtocol.nowMicros()
                    if try MessageStore.mark(db, seq: seq, principal: principal.name, ack: ack, at: at) {
                        var event = Agor_Btmsg_V1_Event()
                        var receipt = Agor_Btmsg_V1_Receipt()
                        receipt.messageID = m.id; receipt.principal = principal.name; receipt.atUs = at
                        if ack { event.messageAcked = receipt } else { event.messageRead = receipt }
                        try writer.append(stream: BtmsgRules.stream(of: m.group), type: ack ? "message.acked" : "message.read",
                                          body: try event.serializedBytes())
                    }
                    m.read = true
                    if ack { m.acked = true }
                    events = writer
                }
                return m
            }
            if !mark { return try await database.read { db in var none: EventBatchWriter? = nil; return try work(db, &none) } }
            return try await publisher.write { db, events in
                var writer: EventBatchWriter? = events
                let result = try work(db, &writer)
                if let writer { events = writer }
                return result
            }
        }

        // btmsg.read MessageRef -> Message: marks it read when addressed to the caller.
        handle(BtmsgMethods.read) { context, ref in
            try await fetch(context, ref, mark: true, ack: false)
        }
        // btmsg.get MessageRef -> Message: reads without marking (the sender's view, wait's fetch).
        handle(BtmsgMethods.get) { context, ref in
            try await fetch(context, ref, mark: false, ack: false)
        }
        // btmsg.ack MessageRef -> Message: acknowledges (and reads) a message addressed to the caller.
        handle(BtmsgMethods.ack) { context, ref in
            try await fetch(context, ref, mark: true, ack: true)
        }
        // btmsg.heartbeat Empty -> Empty: presence only.
        handle(BtmsgMethods.heartbeat) { _, _ in Agor_Btmsg_V1_Empty() }
    }
}
