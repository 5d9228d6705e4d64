import BtmsgAPI
import Bus
import Foundation
import GRDB

/// Channels: create, list, and membership (add/remove by the owner or an operator; join when open;
/// leave). Every change is an event on the group's stream.
extension BtmsgService {
    func registerChannels() {
        let database = self.database, publisher = self.publisher, directory = self.directory

        // btmsg.channel.create ChannelCreateRequest -> Channel. The creator owns it and is its
        // first member; a name is unique within its group.
        handle(BtmsgMethods.channelCreate) { context, request in
            let principal = context.principal
            let name = request.name.hasPrefix("#") ? String(request.name.dropFirst()) : request.name
            guard BtmsgRules.isValidChannelName(name) else {
                throw BusError.badRequest("channel names use letters, digits, '-', '_' and '.' (1 to 64, no leading '.')")
            }
            guard !BtmsgRules.systemChannels.contains(name) else { throw BusError.conflict("#\(name) is a system channel") }
            let group = try RequestChecks.group(of: principal, named: request.group)
            try await self.ensureSystemChannels(group)
            let requestId = context.requestId
            return try await publisher.write { db, events in
                try RequestDedup.once(db, principal: principal.name, requestId: requestId) {
                    guard try MessageStore.channel(db, group: group, name: name) == nil else {
                        throw BusError.conflict("group \(group) has a channel #\(name) already")
                    }
                    let (channel, _) = try MessageStore.createChannel(db, group: group, name: name, owner: principal.name, system: false, open: request.open)
                    _ = try MessageStore.addMember(db, channel: channel.id, principal: principal.name, by: principal.name)
                    let proto = channel.proto(members: [principal.name], isMember: true)
                    var event = Agor_Btmsg_V1_Event()
                    event.channelCreated = proto
                    try events.append(stream: BtmsgRules.stream(of: group), type: "channel.created", body: try event.serializedBytes())
                    return proto
                }
            }
        }

        // btmsg.channel.list ChannelListRequest -> ChannelList: the channels of the caller's groups
        // (or one of them); members are listed for the channels the caller may read.
        handle(BtmsgMethods.channelList) { context, request in
            let principal = context.principal
            guard request.group.isEmpty || principal.isMember(of: request.group) else {
                throw BusError.forbidden("\(principal.name) is not in group \(request.group)")
            }
            try await self.ensureSystemChannels(for: principal)
            let groups = request.group.isEmpty ? principal.groups : [request.group]
            return try await database.read { db in
                let viewer = try Viewer(db, principal: principal)
                var reply = Agor_Btmsg_V1_ChannelList()
                for channel in try MessageStore.channels(db, groups: groups) {
                    let access = viewer.channels[channel.id]
                    reply.channels.append(channel.proto(members: access != nil ? try MessageStore.members(db, channel: channel.id) : [],
                                                        isMember: access != nil))
                }
                return reply
            }
        }

        enum Change { case add, remove, join, leave }

        @Sendable func change(_ context: RequestContext, _ request: Agor_Btmsg_V1_MemberRequest, _ change: Change) async throws -> Agor_Btmsg_V1_Channel {
            try RequestChecks.requireFullId(request.channelID, "channel_id")
            let actor = context.principal
            let subject: Principal
            switch change {
            case .add, .remove:
                guard !request.principal.isEmpty else { throw BusError.badRequest("name the member to \(change == .add ? "add" : "remove")") }
                guard let named = directory.principal(named: request.principal) else { throw BusError.notFound("unknown principal \(request.principal)") }
                subject = named
            case .join, .leave:
                guard request.principal.isEmpty || request.principal == actor.name else {
                    throw BusError.badRequest("join and leave act on the caller only")
                }
                subject = actor
            }
            let requestId = context.requestId
            return try await publisher.write { db, events in
                try RequestDedup.once(db, principal: actor.name, requestId: requestId) {
                    guard let channel = try MessageStore.channel(db, id: request.channelID), actor.isMember(of: channel.group) else {
                        throw BusError.notFound("no channel \(request.channelID) in the groups of \(actor.name)")
                    }
                    switch change {
                    case .add, .remove:
                        guard BtmsgRules.mayManageMembers(actor: actor, group: channel.group, owner: channel.owner) else {
                            throw BusError.forbidden("only the owner of #\(channel.name) (\(channel.owner)) or an operator may change its members")
                        }
                        guard change == .remove || subject.isMember(of: channel.group) else {
                            throw BusError.forbidden("\(subject.name) is not in group \(channel.group), the group of #\(channel.name)")
                        }
                    case .join:
                        guard channel.open || actor.role == .operator_ else {
                            throw BusError.forbidden("#\(channel.name) is not open; ask its owner (\(channel.owner)) to add you")
                        }
                    case .leave:
                        break
                    }
                    let changed = (change == .add || change == .join)
                        ? try MessageStore.addMember(db, channel: channel.id, principal: subject.name, by: actor.name)
                        : try MessageStore.removeMember(db, channel: channel.id, principal: subject.name)
                    if changed {
                        var membership = Agor_Btmsg_V1_Membership()
                        membership.channelID = channel.id; membership.channelName = channel.name
                        membership.principal = subject.name; membership.by = actor.name
                        var event = Agor_Btmsg_V1_Event()
                        let added = change == .add || change == .join
                        if added { event.memberAdded = membership } else { event.memberRemoved = membership }
                        try events.append(stream: BtmsgRules.stream(of: channel.group), type: added ? "channel.member_added" : "channel.member_removed",
                                          body: try event.serializedBytes())
                    } else if change == .remove || change == .leave {
                        throw BusError.notFound("\(subject.name) is not a member of #\(channel.name)")
                    }
                    let members = try MessageStore.members(db, channel: channel.id)
                    return channel.proto(members: members, isMember: members.contains(actor.name))
                }
            }
        }

        handle(BtmsgMethods.channelAdd) { context, request in try await change(context, request, .add) }
        handle(BtmsgMethods.channelRemove) { context, request in try await change(context, request, .remove) }
        handle(BtmsgMethods.channelJoin) { context, request in try await change(context, request, .join) }
        handle(BtmsgMethods.channelLeave) { context, request in try await change(context, request, .leave) }
    }
}
