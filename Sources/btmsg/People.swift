import BtmsgAPI
import Bus
import Foundation
import GRDB

/// Who is who: whoami, contacts and the contact graph, explicit contacts (`allow`, operators),
/// presence and unread counts per group, and the caller's groups with their members.
extension BtmsgService {
    /// People and agents of a group (services are not messaging parties).
    func members(of group: String) -> [Principal] {
        directory.current.byName.values.filter { $0.isMember(of: group) && $0.kind != .service }.sorted { $0.name < $1.name }
    }

    func statuses(_ db: Database, group: String, caller: Principal) throws -> [Agor_Btmsg_V1_PrincipalStatus] {
        let people = members(of: group)
        let seen = try presence.lastSeen(people.map(\.name), db: db)
        let now = BusProtocol.nowMicros()
        return try people.map { person in
            var status = Agor_Btmsg_V1_PrincipalStatus()
            status.name = person.name; status.group = group; status.role = person.role.rawValue; status.kind = person.kind.rawValue
            status.lastSeenUs = seen[person.name] ?? 0
            status.online = PresenceTracker.isOnline(lastSeen: status.lastSeenUs, now: now)
            // Unread counts: your own; operators and managers see everyone's in their group.
            if person.name == caller.name || caller.role == .operator_ || caller.role == .manager {
                status.unread = try Self.unreadCount(db, viewer: try Viewer(db, principal: person))
            }
            return status
        }
    }

    func registerPeople() {
        let database = self.database, directory = self.directory, publisher = self.publisher

        handle(BtmsgMethods.whoami) { context, _ in
            let p = context.principal
            return try await database.read { db in
                var reply = Agor_Btmsg_V1_WhoAmIReply()
                reply.name = p.name; reply.kind = p.kind.rawValue; reply.role = p.role.rawValue
                reply.groups = p.groups; reply.rights = p.rights.map(\.rawValue)
                reply.unread = try Self.unreadCount(db, viewer: try Viewer(db, principal: p))
                return reply
            }
        }

        // btmsg.contacts Empty -> ContactList: whom the caller may message, and why.
        handle(BtmsgMethods.contacts) { context, _ in
            let p = context.principal
            return try await database.read { db in
                var reply = Agor_Btmsg_V1_ContactList()
                let now = BusProtocol.nowMicros()
                for group in p.groups {
                    let others = self.members(of: group).filter { $0.name != p.name }
                    let seen = try self.presence.lastSeen(others.map(\.name), db: db)
                    for q in others {
                        let via: String
                        if let reason = BtmsgRules.roleAllows(sender: p, recipient: q) { via = reason == .team ? "team" : "role" }
                        else if try MessageStore.hasContact(db, from: p.name, to: q.name, group: group) { via = "contact" }
                        else if try MessageStore.hasWritten(db, from: q.name, to: p.name, group: group) { via = "reply" }
                        else { continue }
                        var contact = Agor_Btmsg_V1_Contact()
                        contact.name = q.name; contact.group = group; contact.role = q.role.rawValue; contact.kind = q.kind.rawValue
                        contact.via = via; contact.lastSeenUs = seen[q.name] ?? 0
                        contact.online = PresenceTracker.isOnline(lastSeen: contact.lastSeenUs, now: now)
                        reply.contacts.append(contact)
                    }
                }
                return reply
            }
        }

        // btmsg.allow AllowRequest -> Empty: operators add (or remove) an explicit contact.
        handle(BtmsgMethods.allow) { context, request in
            let actor = context.principal
            guard let from = directory.principal(named: request.from) else { throw BusError.notFound("unknown principal \(request.from)") }
            guard let to = directory.principal(named: request.to) else { throw BusError.notFound("unknown principal \(request.to)") }
            guard from.name != to.name else { throw BusError.badRequest("a contact needs two different principals") }
            let group = try BtmsgRules.groupForDirectMessage(sender: from, recipient: to, named: request.group)
            guard actor.role == .operator_, actor.isMember(of: group) else {
                throw BusError.forbidden("only an operator of group \(group) may change contacts")
            }
            let requestId = context.requestId
            return try await publisher.write { db, _ in
                try RequestDedup.once(db, principal: actor.name, requestId: requestId) {
                    let pairs = request.bothWays ? [(from.name, to.name), (to.name, from.name)] : [(from.name, to.name)]
                    for (a, b) in pairs {
                        if request.remove {
                            try db.execute(sql: "DELETE FROM contacts WHERE grp = ? AND from_principal = ? AND to_principal = ?", arguments: [group, a, b])
                        } else {
                            try db.execute(sql: "INSERT OR IGNORE INTO contacts(grp, from_principal, to_principal, created_by) VALUES (?, ?, ?, ?)",
                                           arguments: [group, a, b, actor.name])
                        }
                    }
                    return Agor_Btmsg_V1_Empty()
                }
            }
        }

        // btmsg.status StatusRequest -> StatusReply: the people and agents of the caller's groups.
        handle(BtmsgMethods.status) { context, request in
            let p = context.principal
            guard request.group.isEmpty || p.isMember(of: request.group) else { throw BusError.forbidden("\(p.name) is not in group \(request.group)") }
            let groups = request.group.isEmpty ? p.groups : [request.group]
            return try await database.read { db in
                var reply = Agor_Btmsg_V1_StatusReply()
                for group in groups { reply.principals += try self.statuses(db, group: group, caller: p) }
                return reply
            }
        }

        // btmsg.graph Empty -> GraphReply: who may message whom in the caller's groups.
        handle(BtmsgMethods.graph) { context, _ in
            let p = context.principal
            return try await database.read { db in
                var reply = Agor_Btmsg_V1_GraphReply()
                for group in p.groups {
                    let people = self.members(of: group)
                    let contacts = try Row.fetchAll(db, sql: "SELECT from_principal, to_principal FROM contacts WHERE grp = ?", arguments: [group])
                    let explicit = Set(contacts.map { "\($0[0] as String)\u{0}\($0[1] as String)" })
                    for a in people { for b in people where a.name != b.name {
                        let via: String
                        if let reason = BtmsgRules.roleAllows(sender: a, recipient: b) { via = reason == .team ? "team" : "role" }
                        else if explicit.contains("\(a.name)\u{0}\(b.name)") { via = "contact" }
                        else { continue }
                        var edge = Agor_Btmsg_V1_Edge()
                        edge.from = a.name; edge.to = b.name; edge.group = group; edge.via = via
                        reply.edges.append(edge)
                    } }
                }
                return reply
            }
        }

        // btmsg.group.list Empty -> GroupList: the caller's groups with their members.
        handle(BtmsgMethods.groupList) { context, _ in
            let p = context.principal
            return try await database.read { db in
                var reply = Agor_Btmsg_V1_GroupList()
                for group in p.groups {
                    var info = Agor_Btmsg_V1_GroupInfo()
                    info.name = group
                    info.members = try self.statuses(db, group: group, caller: p)
                    reply.groups.append(info)
                }
                return reply
            }
        }

        // btmsg.group.members GroupMembersRequest -> GroupInfo.
        handle(BtmsgMethods.groupMembers) { context, request in
            let p = context.principal
            let group = try RequestChecks.group(of: p, named: request.group)
            return try await database.read { db in
                var info = Agor_Btmsg_V1_GroupInfo()
                info.name = group
                info.members = try self.statuses(db, group: group, caller: p)
                return info
            }
        }
    }
}
