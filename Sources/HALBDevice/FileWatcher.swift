import CHALBLinux
import Foundation
import Glibc
import HALBCore
import NIOConcurrencyHelpers

/// Tells when a file may have changed, without polling: inotify on the file's directory and, when the path is a
/// symbolic link, on its target's (an editor's rename, a link swapped to a new file and a write in place all show).
/// A thread sleeps in `poll(2)` until the kernel has news; events of other files in those directories (a log
/// written beside the site file) are dropped there.
///
/// The events say only "maybe": the caller compares the file's stamp to see whether it really changed.
final class FileWatcher: Sendable {
    /// One element per batch of events that concern the file.
    let events: AsyncStream<Void>
    /// The paths watched: the file's, and its link target's (see ``watchedPaths(of:)``).
    let paths: Set<String>
    private let wake: Int32
    /// Set by the thread when it ends and closes its descriptors; ``stop()`` writes to `wake` only before.
    private let finished: NIOLockedValueBox<Bool>

    /// - Throws: ``SiteFile/FileProblem`` when inotify cannot watch (no descriptors or watches left).
    init(path: String) throws {
        let inotify = inotify_init1(Int32(IN_CLOEXEC))
        guard inotify >= 0 else {
            throw SiteFile.FileProblem(description: "inotify: \(String(cString: strerror(errno)))")
        }
        let paths = Self.watchedPaths(of: path)
        self.paths = paths
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY)
        // The names that matter in each watched directory, by watch descriptor.
        var names: [Int32: Set<String>] = [:]
        for path in paths {
            let url = URL(fileURLWithPath: path)
            let directory = url.deletingLastPathComponent().path
            let watch = inotify_add_watch(inotify, directory, mask)
            guard watch >= 0 else {
                let reason = String(cString: strerror(errno))
                close(inotify)
                throw SiteFile.FileProblem(description: "inotify cannot watch \(directory): \(reason)")
            }
            names[watch, default: []].insert(url.lastPathComponent)
        }
        let interesting = names
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
                let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
                if count > 0, Self.concern(buffer[..<count], names: interesting) { continuation.yield() }
            }
            continuation.finish()
            finished.withLockedValue { finished in
                finished = true
                close(inotify)
                close(wake)
            }
        }
    }

    /// `path` and, when it is a symbolic link, its target.
    static func watchedPaths(of path: String) -> Set<String> {
        let url = URL(fileURLWithPath: path)
        return [url.path, url.resolvingSymlinksInPath().path]
    }

    /// Whether a batch of inotify events (`struct inotify_event`s, each followed by its name) names one of the
    /// files watched, or says events were lost.
    static func concern(_ bytes: ArraySlice<UInt8>, names: [Int32: Set<String>]) -> Bool {
        var offset = bytes.startIndex
        // wd (4 bytes), mask (4), cookie (4), len (4), then `len` bytes of name, NUL-padded.
        while offset + 16 <= bytes.endIndex {
            func word(_ at: Int) -> UInt32 {
                bytes[at..<(at + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) }
            }
            let watch = Int32(bitPattern: word(offset))
            let mask = word(offset + 4)
            let length = Int(word(offset + 12))
            let nameEnd = min(offset + 16 + length, bytes.endIndex)
            let name = String(decoding: bytes[(offset + 16)..<nameEnd].prefix { $0 != 0 }, as: UTF8.self)
            if mask & UInt32(IN_Q_OVERFLOW) != 0 || names[watch]?.contains(name) == true { return true }
            offset = nameEnd
        }
        return false
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
