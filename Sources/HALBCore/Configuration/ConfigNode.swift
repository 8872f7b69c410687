import Yams

/// A configuration document as a tree, independent of the syntax it was written in (YAML or JSON).
///
/// Scalars keep their text; the reader decides what a field's text means, so YAML 1.1 surprises such as `off` being
/// read as `false` cannot happen.
public indirect enum ConfigNode: Sendable, Hashable {
    /// An absent or `null` value.
    case null
    /// A scalar's text; `quoted` is true when it was written as a quoted string.
    case scalar(String, quoted: Bool)
    /// A list.
    case sequence([ConfigNode])
    /// A mapping, keys in document order.
    case mapping([ConfigEntry])

    /// A plain scalar.
    public static func plain(_ text: String) -> ConfigNode { .scalar(text, quoted: false) }

    /// A quoted string scalar.
    public static func string(_ text: String) -> ConfigNode { .scalar(text, quoted: true) }
}

/// One key and value of a ``ConfigNode/mapping(_:)``.
public struct ConfigEntry: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The value.
    public var value: ConfigNode

    /// Creates an entry.
    public init(_ key: String, _ value: ConfigNode) {
        self.key = key
        self.value = value
    }
}

extension ConfigNode {
    /// Parses YAML text into a tree, within `limits`.
    ///
    /// - Parameters:
    ///   - yaml: the document.
    ///   - limits: its size, depth, node count (aliases counted as what they stand for) and list lengths.
    /// - Returns: the tree (``null`` for an empty document).
    /// - Throws: ``ConfigurationError`` naming the line and column of a syntax error, or the limit passed.
    public static func parse(yaml: String, limits: DocumentLimits = .site) throws(ConfigurationError) -> ConfigNode {
        try YAMLComposer.compose(yaml, limits: limits)
    }

    /// Writes the tree as YAML text.
    public func yaml() -> String {
        (try? Yams.serialize(node: self.yamlNode(), sortKeys: false)) ?? ""
    }

    private func yamlNode() -> Node {
        switch self {
        case .null:
            return Node("null", Tag(.null))
        case .scalar(let text, let quoted):
            if quoted {
                return Node(text, Tag(.str), .doubleQuoted)
            }
            return Node(text)
        case .sequence(let items):
            return .sequence(Node.Sequence(items.map { $0.yamlNode() }))
        case .mapping(let entries):
            return .mapping(Node.Mapping(entries.map { (Node($0.key), $0.value.yamlNode()) }))
        }
    }
}
