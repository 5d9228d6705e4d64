import Bus

/// bttask's wire API: every method with its request and reply, written once. The service registers
/// its handlers with these, and the CLI, the Gateway and the benchmarks call through them.
/// docs/BTTASK.md describes each; who may do what is `BttaskRules.table`.
public enum BttaskMethods {
    public static let service = "bttask"

    // Changes: each bumps the task's version and the board's revision.
    public static let create = Method<Agor_Bttask_V1_CreateRequest, Agor_Bttask_V1_TaskReply>(
        service, "bttask.create", .change, summary: "create a task")
    public static let update = Method<Agor_Bttask_V1_UpdateRequest, Agor_Bttask_V1_TaskReply>(
        service, "bttask.update", .change, summary: "change a task's title, description, priority or labels")
    public static let move = Method<Agor_Bttask_V1_MoveRequest, Agor_Bttask_V1_TaskReply>(
        service, "bttask.move", .change, summary: "move a task to another status")
    public static let assign = Method<Agor_Bttask_V1_AssignRequest, Agor_Bttask_V1_TaskReply>(
        service, "bttask.assign", .change, summary: "assign or unassign a task")
    public static let claim = Method<Agor_Bttask_V1_ClaimRequest, Agor_Bttask_V1_TaskReply>(
        service, "bttask.claim", .change, summary: "take an unassigned task atomically")
    public static let delete = Method<Agor_Bttask_V1_DeleteRequest, Agor_Bttask_V1_TaskReply>(
        service, "bttask.delete", .change, summary: "delete a task")
    public static let comment = Method<Agor_Bttask_V1_CommentRequest, Agor_Bttask_V1_CommentReply>(
        service, "bttask.comment", .change, summary: "comment on a task")
    public static let dependency = Method<Agor_Bttask_V1_DependencyRequest, Agor_Bttask_V1_TaskReply>(
        service, "bttask.deps", .change, summary: "add or remove a blocker of a task (a cycle is refused)")

    // File leases (writes, except list)
    public static let leaseAcquire = Method<Agor_Bttask_V1_LeaseRequest, Agor_Bttask_V1_LeaseList>(
        service, "bttask.lease.acquire", .change, summary: "hold paths of a project, exclusive or shared, for a time")
    public static let leaseRenew = Method<Agor_Bttask_V1_LeaseRef, Agor_Bttask_V1_Lease>(
        service, "bttask.lease.renew", .change, summary: "extend a lease one holds")
    public static let leaseRelease = Method<Agor_Bttask_V1_LeaseRef, Agor_Bttask_V1_Lease>(
        service, "bttask.lease.release", .change, summary: "end a lease (its holder, a manager or an operator)")
    public static let leaseList = Method<Agor_Bttask_V1_LeaseListRequest, Agor_Bttask_V1_LeaseList>(
        service, "bttask.lease.list", .read, summary: "live leases of the caller's groups, of a project, a holder or a path")

    // Reads
    public static let list = Method<Agor_Bttask_V1_ListRequest, Agor_Bttask_V1_TaskList>(
        service, "bttask.list", .read, summary: "the board (done hidden unless asked for)")
    public static let ready = Method<Agor_Bttask_V1_ListRequest, Agor_Bttask_V1_TaskList>(
        service, "bttask.ready", .read, summary: "tasks to claim: todo, unassigned, every blocker done")
    public static let show = Method<Agor_Bttask_V1_TaskRef, Agor_Bttask_V1_ShowReply>(
        service, "bttask.show", .read, summary: "a task with its comments and children")
    public static let resolve = Method<Agor_Bttask_V1_ResolveRequest, Agor_Bttask_V1_ResolveReply>(
        service, "bttask.resolve", .read, summary: "task ids starting with a prefix")
    public static let changes = Method<Agor_Bttask_V1_ChangesRequest, Agor_Bttask_V1_ChangeList>(
        service, "bttask.changes", .read, summary: "every change after a board revision, in order")

    /// Every method above, for docs and tests.
    public static let all: [any MethodDescription] = [
        create, update, move, assign, claim, delete, comment, dependency, list, ready, show, resolve,
        changes, leaseAcquire, leaseRenew, leaseRelease, leaseList,
    ]
}
