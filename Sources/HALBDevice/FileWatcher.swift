import CHALBLinux
import Foundation
import Glibc
import NIOConcurrencyHelpers

/// Tells when a file may have changed, without polling: inotify on the file's directory and, when the path is a
/// symbolic link, on its target's (an editor's rename, a link swapped to a new file and a write in place all show).
/// A thread sleeps in `poll(2)` until the kernel has news.
///
/// The events say only "maybe": the caller compares the file's stamp to see whether it really changed.
final class FileWatcher: Sendable {
    /// One element per batch of events in the watched directories.
    let events: AsyncStream<Void>
    /// The directories watched.
    let directories: Set<String>
    private let wake: Int32
    /// Set by the thread when it ends and closes its descriptors; ``stop()`` writes to `wake` only before.
    private let finished: NIOLockedValueBox<Bool>

    /// - Throws: ``SiteFile/FileProblem`` when inotify cannot watch (no descriptors or watches left).
    init(path: String) throws {
        let inotify = inotify_init1(Int32(IN_CLOEXEC))
        guard inotify >= 0 else {
            throw SiteFile.FileProblem(description: "inotify: \(String(cString: strerror(errno)))")
        }
        let directories = Self.directories(of: path)
        self.directories = directories
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY)
        for directory in directories where inotify_add_watch(inotify, directory, mask) < 0 {
            let reason = String(cString: strerror(errno))
            close(inotify)
            throw SiteFile.FileProblem(description: "inotify cannot watch \(directory): \(reason)")
        }
        let wake = chalb_eventfd()
        guard wake >= 0 else {
            close(inotify)
            throw SiteFile.FileProblem(description: "eventfd: \(String(cString: strerror(errno)))")
        }
        self.wake = wake
        let finished = NIOLockedValueBox(false)
        self.finished = finished
        let (events, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.events = events
        Thread.detachNewThread {
            var descriptors = [
                pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
            ]
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let ready = poll(&descriptors, 2, -1)
                if ready < 0, errno == EINTR { continue }
                guard ready > 0, descriptors[1].revents == 0, descriptors[0].revents & Int16(POLLIN) != 0 else { break }
                // The events themselves do not matter: drain them, then say "maybe changed" once.
                _ = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
                continuation.yield()
            }
            continuation.finish()
            finished.withLockedValue { finished in
                finished = true
                close(inotify)
                close(wake)
            }
        }
    }

    /// The directory of `path` and, when it is a symbolic link, that of its target.
    static func directories(of path: String) -> Set<String> {
        let url = URL(fileURLWithPath: path)
        return [url.deletingLastPathComponent().path, url.resolvingSymlinksInPath().deletingLastPathComponent().path]
    }

    /// Ends the watch; ``events`` finishes.
    func stop() {
        self.finished.withLockedValue { finished in
            guard !finished else { return }
            var one: UInt64 = 1
            _ = write(self.wake, &one, 8)
        }
    }
}
