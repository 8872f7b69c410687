import Foundation
import HALBAgent
import HALBCore
import Logging

/// Where a device's configuration comes from: a file that can change, or the console.
public enum ConfigSource: Sendable {
    case file(String)
    /// A managed device: the configuration it starts with (cached, or just fetched), then the console's.
    case console(ManagedConfiguration)

    public var name: String {
        switch self {
        case .file(let path): path
        case .console(let managed): "console \(managed.client.identity.console)"
        }
    }

    /// The site to run now: the file's, read and validated, or the console's first.
    ///
    /// - Throws: ``ConfigurationError`` with every issue, or ``SiteFile/FileProblem`` when the file cannot be read.
    public func site() throws -> Site {
        switch self {
        case .file(let path): try SiteReader.load(yaml: try SiteFile.read(path: path))
        case .console(let managed): managed.initialSite
        }
    }

    /// Something that changes when the file is rewritten (modification time, size, inode), or `nil`.
    public func stamp() -> String? {
        // Of the file a symbolic link points to: a write behind the link is a change too.
        guard case .file(let path) = self,
            let attributes = try? FileManager.default.attributesOfItem(
                atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            )
        else { return nil }
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let inode = (attributes[.systemFileNumber] as? NSNumber)?.intValue ?? 0
        return "\(modified)/\(size)/\(inode)"
    }
}

/// A managed device's source: its console client, state directory and starting configuration.
public struct ManagedConfiguration: Sendable {
    public var client: AgentClient
    public var state: AgentStateDirectory
    public var initialVersion: Int
    public var initialSite: Site
    /// Whether the initial configuration was just fetched (to be cached and acknowledged once running).
    public var fetched: Bool

    public init(
        client: AgentClient,
        state: AgentStateDirectory,
        initialVersion: Int,
        initialSite: Site,
        fetched: Bool
    ) {
        self.client = client
        self.state = state
        self.initialVersion = initialVersion
        self.initialSite = initialSite
        self.fetched = fetched
    }
}
