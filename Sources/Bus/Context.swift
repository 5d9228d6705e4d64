import CLibZMQ

/// A ZeroMQ context: the owner of libzmq's I/O threads and of every socket made from it.
///
/// Thread-safe (libzmq contexts are). `shutdown()` makes blocking calls on its sockets fail with
/// `ZMQError.terminated`; the context is terminated when the last reference goes away.
public final class Context: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    /// The one thread of this context's client sockets (RPC clients, subscribers): started with the
    /// first, ended after the last closed.
    let clientThread = SocketThread()

    public init(ioThreads: Int32 = 1) {
        guard let handle = zmq_ctx_new() else {
            fatalError("zmq_ctx_new failed: \(ZMQError.current())")
        }
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        // Keep the process's own signal handling: libzmq must not block SIGINT/SIGTERM.
        zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
        self.handle = handle
    }

    /// Wakes every blocking call on the context's sockets with ETERM.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        // Sockets hold a strong reference to their context, so none is open here.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// The libzmq version this process runs on, e.g. (4, 3, 4).
    public static var libraryVersion: (major: Int32, minor: Int32, patch: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }

    /// Whether libzmq was built with the given capability ("curve", "ipc", ...).
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
