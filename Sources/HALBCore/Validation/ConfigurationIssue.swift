/// One problem found in a configuration: where it is and what is wrong.
public struct ConfigurationIssue: Sendable, Hashable, CustomStringConvertible {
    /// The field's path, such as `virtualServers[0].payloads.gateway.port`; empty for the whole document.
    public var path: String
    /// What is wrong, naming the offending value, such as `70000 is not a port (1-65535)`.
    public var message: String

    /// Creates an issue.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `path: message`, the form `halb validate` prints.
    public var description: String { self.path.isEmpty ? self.message : "\(self.path): \(self.message)" }
}

/// A configuration that cannot be used, with every issue found in it.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every issue, in document order.
    public var issues: [ConfigurationIssue]

    /// Creates an error from its issues.
    public init(issues: [ConfigurationIssue]) {
        self.issues = issues
    }

    /// One issue per line.
    public var description: String { self.issues.map(\.description).joined(separator: "\n") }
}

/// A path into a configuration document, printed the way operators write it: `virtualServers[0].vip.ipv4`.
public struct ConfigurationPath: Sendable, Hashable, CustomStringConvertible {
    /// The path as text.
    public private(set) var description: String

    /// The root of the document.
    public static let root = ConfigurationPath(description: "")

    /// The path of field `key` below this one.
    public func appending(_ key: String) -> ConfigurationPath {
        ConfigurationPath(description: self.description.isEmpty ? key : "\(self.description).\(key)")
    }

    /// The path of element `index` of the list at this path.
    public func appending(index: Int) -> ConfigurationPath {
        ConfigurationPath(description: "\(self.description)[\(index)]")
    }

    /// Shorthand for ``appending(_:)``.
    public static func / (lhs: ConfigurationPath, rhs: String) -> ConfigurationPath { lhs.appending(rhs) }

    /// Shorthand for ``appending(index:)``.
    public static func / (lhs: ConfigurationPath, rhs: Int) -> ConfigurationPath { lhs.appending(index: rhs) }
}

/// Quotes a text value for an error message so that empty and spaced values stay visible.
func quoted(_ text: String) -> String {
    DisplayText.quoted(text)
}
