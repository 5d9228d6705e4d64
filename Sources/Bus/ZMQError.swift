import CLibZMQ
import Glibc

/// The one error type of the ZeroMQ layer: the zmq errno as `code`.
///
/// EINTR never escapes (calls are retried), EAGAIN surfaces as `wouldBlock`
/// and ETERM (the context is shutting down) as `terminated`.
public struct ZMQError: Error, Equatable, Hashable, CustomStringConvertible, Sendable {
    public let code: Int32

    public init(code: Int32) { self.code = code }

    public static let wouldBlock = ZMQError(code: EAGAIN)
    public static let terminated = ZMQError(code: zmqETERM)
    public static let hostUnreachable = ZMQError(code: EHOSTUNREACH)
    public static let invalidArgument = ZMQError(code: EINVAL)

    public var isWouldBlock: Bool { code == EAGAIN }
    public var isTerminated: Bool { code == zmqETERM }

    public var description: String {
        "ZMQError(\(code)): \(String(cString: zmq_strerror(code)))"
    }

    /// Reads errno right after a failed call.
    static func current() -> ZMQError { ZMQError(code: zmq_errno()) }
}

/// ETERM is defined relative to ZMQ_HAUSNUMERO; spelled out once here.
let zmqETERM: Int32 = ZMQ_HAUSNUMERO + 53

/// Every libzmq call goes through here: errno is read at once, EINTR is retried,
/// everything else becomes a `ZMQError`.
@inline(__always)
@discardableResult
func zmqCall(_ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        let error = zmq_errno()
        if error == EINTR { continue }
        throw ZMQError(code: error)
    }
}
