import CLibZMQ
import Foundation
import Synchronization

/// A thread that owns one or more libzmq sockets: it sleeps in one `zmq_poll` over all of them and
/// one eventfd, and runs each socket's loop (`SocketLoop`) in turn. A socket gets a thread of its
/// own unless it is made to share one (`Socket.Configuration.sharesThreadWith`): a service's ROUTER
/// and PUB share theirs, so the writer loop's commit, its replies and its events are written by one
/// thread without waking another (docs/BUS.md, "The writer loop").
///
/// The thread starts with its first socket and ends when its last socket has closed; a socket that
/// arrives after that starts it again. Every `Context` has one such thread for its client sockets
/// (RPC clients, subscribers), so a process with many clients has one socket thread, not one each.
final class SocketThread: Sendable {
    let wakeup = Wakeup()
    private struct Arrivals {
        var loops: [UnsafeTransfer<SocketLoop>] = []
        /// No OS thread runs this one (not started yet, or every socket on it closed).
        var finished = true
    }
    private let arrivals = Mutex(Arrivals())

    /// Runs `loop` on this thread: hands it over when the thread is running, else starts it with
    /// `loop` as its first socket (again, when every earlier socket had closed; the sockets'
    /// producers keep signalling this object's eventfd).
    func host(_ loop: SocketLoop, name: String) {
        let start = arrivals.withLock { state -> Bool in
            if state.finished {
                state.finished = false
                return true
            }
            state.loops.append(UnsafeTransfer(loop))
            return false
        }
        guard start else {
            wakeup.signal()
            return
        }
        let transfer = UnsafeTransfer(loop)
        let body = Thread { [self] in run(first: transfer.value) }
        body.name = name
        body.start()
    }

    private func run(first: SocketLoop) {
        var loops = [first]
        var items: [zmq_pollitem_t] = []
        while true {
            loops += arrivals.withLock { state in
                defer { state.loops = [] }
                return state.loops.map(\.value)
            }
            // Each socket takes its queued work and writes what it can; closed ones leave.
            var index = 0
            while index < loops.count {
                if loops[index].service() {
                    index += 1
                } else {
                    loops[index].finish()
                    loops.remove(at: index)
                }
            }
            if loops.isEmpty {
                let done = arrivals.withLock { state -> Bool in
                    if state.loops.isEmpty { state.finished = true }
                    return state.finished
                }
                if done { return }
                continue
            }
            items.removeAll(keepingCapacity: true)
            var wakeupItem = zmq_pollitem_t()
            wakeupItem.fd = wakeup.fd
            wakeupItem.events = Int16(ZMQ_POLLIN)
            items.append(wakeupItem)
            var maySleep = true
            for index in loops.indices {
                let request = loops[index].pollRequest()
                var item = zmq_pollitem_t()
                item.socket = loops[index].raw.handle
                item.events = request.events
                items.append(item)
                // Every socket must agree to sleep (each marks itself asleep for its producers).
                if !request.maySleep { maySleep = false }
            }
            let rc = zmq_poll(&items, Int32(items.count), maySleep ? -1 : 0)
            for loop in loops { loop.core.markAwake() }
            if rc < 0 {
                if zmq_errno() == EINTR { continue }
                // ETERM: the context is shutting down.
                for index in loops.indices { loops[index].finish() }
                loops = []
                continue
            }
            if items[0].revents & Int16(ZMQ_POLLIN) != 0 { wakeup.drain() }
            index = 0
            while index < loops.count {
                if items[index + 1].revents & Int16(ZMQ_POLLIN) != 0, !loops[index].polled() {
                    loops[index].finish()
                    loops.remove(at: index)
                    items.remove(at: index + 1)
                } else {
                    index += 1
                }
            }
        }
    }
}
