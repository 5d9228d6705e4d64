import Bus

/// btmsg's wire API: every method with its request and reply, written once. The service registers
/// its handlers with these, and the CLI, the Gateway, bttask's review outbox and the benchmarks call
/// through them. docs/BTMSG.md describes each.
public enum BtmsgMethods {
    public static let service = "btmsg"

    // Messages
    public static let send = Method<Agor_Btmsg_V1_SendRequest, Agor_Btmsg_V1_SendReply>(
        service, "btmsg.send", .change, summary: "send a direct message or post in a channel")
    public static let read = Method<Agor_Btmsg_V1_MessageRef, Agor_Btmsg_V1_Message>(
        service, "btmsg.read", .change, summary: "read a message, marking it read when it is addressed to the caller")
    public static let get = Method<Agor_Btmsg_V1_MessageRef, Agor_Btmsg_V1_Message>(
        service, "btmsg.get", .read, summary: "read a message without marking it")
    public static let ack = Method<Agor_Btmsg_V1_MessageRef, Agor_Btmsg_V1_Message>(
        service, "btmsg.ack", .change, summary: "acknowledge (and read) a message addressed to the caller")
    public static let heartbeat = Method<Agor_Btmsg_V1_Empty, Agor_Btmsg_V1_Empty>(
        service, "btmsg.heartbeat", .read, summary: "note the caller's presence")

    // Queries
    public static let inbox = Method<Agor_Btmsg_V1_InboxRequest, Agor_Btmsg_V1_MessageList>(
        service, "btmsg.inbox", .read, summary: "unread messages, oldest first (all: the newest of both)")
    public static let history = Method<Agor_Btmsg_V1_HistoryRequest, Agor_Btmsg_V1_MessageList>(
        service, "btmsg.history", .read, summary: "the last messages with someone or in a channel")
    public static let feed = Method<Agor_Btmsg_V1_FeedRequest, Agor_Btmsg_V1_MessageList>(
        service, "btmsg.feed", .read, roles: [.operator_], summary: "every message of the caller's groups")
    public static let search = Method<Agor_Btmsg_V1_SearchRequest, Agor_Btmsg_V1_MessageList>(
        service, "btmsg.search", .read, summary: "full-text search over what the caller may read, best first")
    public static let resolve = Method<Agor_Btmsg_V1_ResolveRequest, Agor_Btmsg_V1_ResolveReply>(
        service, "btmsg.resolve", .read, summary: "message ids starting with a prefix")
    public static let unread = Method<Agor_Btmsg_V1_Empty, Agor_Btmsg_V1_UnreadReply>(
        service, "btmsg.unread", .read, summary: "the caller's unread count")
    public static let deadLetters = Method<Agor_Btmsg_V1_Empty, Agor_Btmsg_V1_DeadLetterList>(
        service, "btmsg.deadletters", .read, roles: [.operator_], summary: "unread direct messages to revoked principals")

    // Channels
    public static let channelCreate = Method<Agor_Btmsg_V1_ChannelCreateRequest, Agor_Btmsg_V1_Channel>(
        service, "btmsg.channel.create", .change, summary: "create a channel (the caller owns it)")
    public static let channelList = Method<Agor_Btmsg_V1_ChannelListRequest, Agor_Btmsg_V1_ChannelList>(
        service, "btmsg.channel.list", .read, summary: "the channels of the caller's groups")
    public static let channelAdd = Method<Agor_Btmsg_V1_MemberRequest, Agor_Btmsg_V1_Channel>(
        service, "btmsg.channel.add", .change, summary: "add a member (owner or operator)")
    public static let channelRemove = Method<Agor_Btmsg_V1_MemberRequest, Agor_Btmsg_V1_Channel>(
        service, "btmsg.channel.remove", .change, summary: "remove a member (owner or operator)")
    public static let channelJoin = Method<Agor_Btmsg_V1_MemberRequest, Agor_Btmsg_V1_Channel>(
        service, "btmsg.channel.join", .change, summary: "join an open channel")
    public static let channelLeave = Method<Agor_Btmsg_V1_MemberRequest, Agor_Btmsg_V1_Channel>(
        service, "btmsg.channel.leave", .change, summary: "leave a channel")

    // People
    public static let whoami = Method<Agor_Btmsg_V1_Empty, Agor_Btmsg_V1_WhoAmIReply>(
        service, "btmsg.whoami", .read, summary: "the caller's name, role, groups and unread count")
    public static let contacts = Method<Agor_Btmsg_V1_Empty, Agor_Btmsg_V1_ContactList>(
        service, "btmsg.contacts", .read, summary: "whom the caller may message, and why")
    public static let allow = Method<Agor_Btmsg_V1_AllowRequest, Agor_Btmsg_V1_Empty>(
        service, "btmsg.allow", .change, roles: [.operator_], summary: "add or remove an explicit contact")
    public static let status = Method<Agor_Btmsg_V1_StatusRequest, Agor_Btmsg_V1_StatusReply>(
        service, "btmsg.status", .read, summary: "presence and unread counts of a group's people and agents")
    public static let graph = Method<Agor_Btmsg_V1_Empty, Agor_Btmsg_V1_GraphReply>(
        service, "btmsg.graph", .read, summary: "who may message whom in the caller's groups")
    public static let groupList = Method<Agor_Btmsg_V1_Empty, Agor_Btmsg_V1_GroupList>(
        service, "btmsg.group.list", .read, summary: "the caller's groups with their members")
    public static let groupMembers = Method<Agor_Btmsg_V1_GroupMembersRequest, Agor_Btmsg_V1_GroupInfo>(
        service, "btmsg.group.members", .read, summary: "one group's members")

    /// Every method above, for docs and tests.
    public static let all: [any MethodDescription] = [
        send, read, get, ack, heartbeat, inbox, history, feed, search, resolve, unread, deadLetters,
        channelCreate, channelList, channelAdd, channelRemove, channelJoin, channelLeave, whoami, contacts,
        allow, status, graph, groupList, groupMembers,
    ]
}
