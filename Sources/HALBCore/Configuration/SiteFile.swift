import Foundation
import Glibc

/// Reading a site file from disk, with errors an operator can act on.
public enum SiteFile {
    /// Reads and validates the site in `path`.
    ///
    /// - Throws: ``ConfigurationError`` with every problem, including an unreadable file.
    public static func load(path: String) throws(ConfigurationError) -> Site {
        let text: String
        do {
            text = try self.read(path: path)
        } catch {
            throw ConfigurationError(issues: [ConfigurationIssue(path: "", message: "cannot read \(path): \(error)")])
        }
        return try SiteReader.load(yaml: text)
    }

    /// Reads a site file of at most `limit` bytes.
    ///
    /// The file must be a regular file: a device such as `/dev/zero`, a pipe or a socket is refused before anything
    /// is read, and so is a file larger than the limit.
    public static func read(path: String, limit: Int = DocumentLimits.site.maximumBytes) throws -> String {
        let attributes: [FileAttributeKey: Any]
        do {
            // Of the file a symbolic link points to (a site file is often one).
            let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            attributes = try FileManager.default.attributesOfItem(atPath: target)
        } catch {
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
            if FileManager.default.fileExists(atPath: path) || code == Int(EACCES) {
                throw FileProblem(description: "permission denied")
            }
            throw FileProblem(description: "no such file")
        }
        switch attributes[.type] as? FileAttributeType {
        case .typeRegular?: break
        case .typeDirectory?: throw FileProblem(description: "it is a directory")
        default: throw FileProblem(description: "it is not a regular file (a device, a pipe or a socket)")
        }
        let tooLarge = FileProblem(
            description: "it is larger than \(DocumentLimits.describe(bytes: limit)), the limit for a site file"
        )
        guard ((attributes[.size] as? NSNumber)?.intValue ?? 0) <= limit else { throw tooLarge }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            let code = errno
            throw FileProblem(
                description: code == EACCES || code == EPERM ? "permission denied" : String(cString: strerror(code))
            )
        }
        defer { close(descriptor) }
        // Read up to one byte past the limit: a file that grows while it is read is refused, not cut.
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes[count...].withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw FileProblem(description: String(cString: strerror(errno))) }
            if got == 0 { break }
            count += got
        }
        guard count <= limit else { throw tooLarge }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
            throw FileProblem(description: "it is not UTF-8 text")
        }
        return text
    }

    public struct FileProblem: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }
}
