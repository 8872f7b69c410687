#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads small files from outside (a seed, an OVF environment, device.conf) without trusting their size: at most
/// `limit` bytes are ever read, and a larger file is refused, not cut.
public enum BoundedFile {
    /// Why a file could not be read.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// There is no such file.
        case missing
        /// The file is larger than the limit.
        case tooLarge(limit: Int)
        /// It could not be opened or read (errno's text).
        case unreadable(String)

        public var description: String {
            switch self {
            case .missing: "no such file"
            case .tooLarge(let limit): "the file is larger than \(Self.describe(bytes: limit)); refused"
            case .unreadable(let reason): "cannot be read: \(reason)"
            }
        }

        private static func describe(bytes: Int) -> String {
            bytes % 1024 == 0 ? "\(bytes / 1024) KiB" : "\(bytes) bytes"
        }
    }

    /// The bytes of the file at `path`, at most `limit`.
    ///
    /// - Throws: ``Failure``: missing, larger than `limit`, or unreadable (a directory, no permission).
    public static func read(_ path: String, limit: Int) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw .missing }
            throw .unreadable(String(cString: strerror(code)))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { readBytes(fd, $0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(String(cString: strerror(errno)))
            }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            // One byte past the limit is enough to know the file is too large; a special file that never ends
            // cannot make this read forever.
            if bytes.count > limit { throw .tooLarge(limit: limit) }
        }
    }

    /// The text of the file at `path` (UTF-8), at most `limit` bytes.
    public static func readText(_ path: String, limit: Int) throws(Failure) -> String {
        String(decoding: try Self.read(path, limit: limit), as: UTF8.self)
    }
}

/// read(2), outside ``BoundedFile`` whose own `read` would hide it.
private func readBytes(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
    read(fd, buffer.baseAddress, buffer.count)
}
