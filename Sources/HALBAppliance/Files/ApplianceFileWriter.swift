import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that a reader sees the old file or the new one, never a part: each goes to a temporary file in
/// its own directory, is flushed to disk, and is renamed over the old one.
public enum ApplianceFileWriter {
    /// What ``write(_:root:)`` did with each file.
    public struct Outcome: Sendable, Hashable {
        /// The files written, as full paths, in order.
        public var written: [String] = []
        /// The files left alone because they are symbolic links (systemd-resolved's resolv.conf).
        public var leftAlone: [String] = []
    }

    /// Writes `files` under `root`, in order, creating directories (0755) as needed.
    ///
    /// - Throws: ``ApplianceError`` naming the file that could not be written; the files before it are written.
    public static func write(_ files: [ApplianceFile], root: String) throws(ApplianceError) -> Outcome {
        var outcome = Outcome()
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        for file in files {
            let path = "\(base)/\(file.path)"
            if file.leavesSymlink, Self.isSymlink(path) {
                outcome.leftAlone.append(path)
                continue
            }
            try Self.write(Array(file.contents.utf8), to: path, mode: file.mode)
            outcome.written.append(path)
        }
        return outcome
    }

    /// Whether `path` is a symbolic link (attributesOfItem does not follow one).
    private static func isSymlink(_ path: String) -> Bool {
        let type = try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType
        return type == .typeSymbolicLink
    }

    /// Writes `bytes` to `path` with permission bits `mode` through a temporary file and a rename.
    ///
    /// - Throws: ``ApplianceError`` naming `path` and the system's reason.
    public static func write(_ bytes: [UInt8], to path: String, mode: UInt32) throws(ApplianceError) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory.isEmpty ? "." : directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755]
            )
        } catch {
            throw .issue(directory, "cannot create the directory: \(error.localizedDescription)")
        }
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).halb-\(getpid())"
        /// The error for the step `what` that just failed; closes `fd` (if open) and removes the temporary file.
        func failure(_ what: String, closing fd: Int32 = -1) -> ApplianceError {
            let reason = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            unlink(temporary)
            return .issue(path, "cannot \(what): \(reason)")
        }
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw failure("create a temporary file beside it") }
        // The umask may have taken bits off; a secret's 0600 must not depend on it either way.
        guard fchmod(fd, mode_t(mode)) == 0 else { throw failure("set its permissions", closing: fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { writeBytes(fd, $0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("write it", closing: fd)
            }
            offset += count
        }
        guard fsync(fd) == 0 else { throw failure("flush it to disk", closing: fd) }
        close(fd)
        guard rename(temporary, path) == 0 else { throw failure("rename the temporary file over it") }
    }
}

/// write(2), outside ``ApplianceFileWriter`` whose own `write` would hide it.
private func writeBytes(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int {
    write(fd, buffer.baseAddress, buffer.count)
}
