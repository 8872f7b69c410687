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

    /// Whether `text` reads as a string, and as itself, written plain in YAML 1.1 and 1.2 alike: it starts with a
    /// letter, holds only letters, digits, `_`, `-`, `.` and `/`, and is not a word some YAML reads as a boolean or
    /// null.
    static func isPlainString(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.properties.isAlphabetic, first.isASCII else { return false }
        let allowed = text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII
                && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                    || "_-./".unicodeScalars.contains(scalar))
        }
        let words: Set<String> = ["y", "yes", "n", "no", "true", "false", "on", "off", "null"]
        return allowed && !words.contains(text.lowercased())
    }

    private func yamlNode() -> Node {
        switch self {
        case .null:
            return Node("null", Tag(.null))
        case .scalar(let text, let quoted):
            if quoted {
                // A string that no YAML reader could take for anything else is written plain (`name: web`), the
                // rest in quotes (`name: "2026"`, `address: "192.0.2.1"`, `name: "yes"`).
                return Node(text, Tag(.str), Self.isPlainString(text) ? .plain : .doubleQuoted)
            }
            return Node(text)
        case .sequence(let items):
            return .sequence(Node.Sequence(items.map { $0.yamlNode() }))
        case .mapping(let entries):
            return .mapping(Node.Mapping(entries.map { (Node($0.key), $0.value.yamlNode()) }))
        }
    }
}
