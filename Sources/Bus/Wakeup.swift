import CLibZMQ
import CLinux
import Glibc

/// An eventfd that wakes a socket thread blocked in `zmq_poll`. Writes accumulate until read,
/// so a wake-up sent before the thread sleeps is never lost.
final class Wakeup: @unchecked Sendable {
    let fd: Int32

    init() {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(fd >= 0, "eventfd failed: errno \(errno)")
    }

    deinit { Glibc.close(fd) }

    func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    func drain() {
        var value: UInt64 = 0
        _ = Glibc.read(fd, &value, 8)
    }
}
