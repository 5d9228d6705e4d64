import CLibZMQ
import CLinux
import Foundation
import Glibc

/// Reloads a `Directory` when its folder changes (inotify), so adding or revoking a principal takes
/// effect without a restart. The watcher thread sleeps in poll(2): no timer, no CPU while idle.
public final class DirectoryWatcher: Sendable {
    private let wakeup = Wakeup()
    private let inotifyFD: Int32

    public init(directory: Directory, onChange: @escaping @Sendable () -> Void = {}) {
        try? FileManager.default.createDirectory(at: directory.spawnedFolder, withIntermediateDirectories: true)
        inotifyFD = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE)
        _ = inotify_add_watch(inotifyFD, directory.folder.path, mask)
        // The runner's own part (children of agent teams) is watched like the rest.
        _ = inotify_add_watch(inotifyFD, directory.spawnedFolder.path, mask)
        let fd = inotifyFD
        let wake = wakeup.fd
        let thread = Thread {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                let rc = poll(&fds, 2, -1)
                if rc < 0 { if errno == EINTR { continue }; break }
                if fds[1].revents != 0 { break }
                // Drain every queued notification, then reload once.
                while read(fd, &buffer, buffer.count) > 0 {}
                directory.reload()
                onChange()
            }
            close(fd)
        }
        thread.name = "agor.directory.watch"
        thread.start()
    }

    public func stop() { wakeup.signal() }

    deinit { wakeup.signal() }
}
