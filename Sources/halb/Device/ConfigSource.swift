import Foundation
import HALBBalancer
import HALBCore
import Logging

/// Where a device's configuration comes from: a file that can change.
enum ConfigSource: Sendable {
    case file(String)

    var name: String {
        switch self {
        case .file(let path): path
        }
    }

    func read() throws -> String {
        switch self {
        case .file(let path): try SiteFile.read(path: path)
        }
    }

    /// Something that changes when the file is rewritten (modification time, size, inode), or `nil`.
    func stamp() -> String? {
        guard case .file(let path) = self,
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        else { return nil }
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.intValue ?? 0
        return "\(modified)/\(size)/\(inode)"
    }
}
