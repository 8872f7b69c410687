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
    /// Parses YAML text into a tree.
    ///
    /// - Parameter yaml: the document.
    /// - Returns: the tree (``null`` for an empty document).
    /// - Throws: ``ConfigurationError`` naming the line and column of a syntax error.
    public static func parse(yaml: String) throws(ConfigurationError) -> ConfigNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationError(issues: [ConfigurationIssue(path: "", message: Self.describe(error))])
        } catch {
            throw ConfigurationError(issues: [ConfigurationIssue(path: "", message: "cannot read YAML: \(error)")])
        }
        guard let root else { return .null }
        return try Self(yaml: root, path: .root)
    }

    private init(yaml node: Node, path: ConfigurationPath) throws(ConfigurationError) {
        switch node {
        case .scalar(let scalar):
            let quoted = scalar.style == .singleQuoted || scalar.style == .doubleQuoted
            if !quoted, scalar.style != .literal, scalar.style != .folded, ["", "~", "null", "Null", "NULL"].contains(scalar.string) {
                self = .null
            } else {
                self = .scalar(scalar.string, quoted: quoted || scalar.style == .literal || scalar.style == .folded)
            }
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for (index, item) in sequence.enumerated() {
                items.append(try ConfigNode(yaml: item, path: path / index))
            }
            self = .sequence(items)
        case .mapping(let mapping):
            var entries: [ConfigEntry] = []
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw ConfigurationError(issues: [
                        ConfigurationIssue(path: path.description, message: "mapping keys must be plain text")
                    ])
                }
                entries.append(ConfigEntry(keyScalar.string, try ConfigNode(yaml: value, path: path / keyScalar.string)))
            }
            self = .mapping(entries)
        case .alias:
            throw ConfigurationError(issues: [
                ConfigurationIssue(path: path.description, message: "YAML aliases are not supported")
            ])
        }
    }

    private static func describe(_ error: YamlError) -> String {
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> String {
            var text = "YAML syntax error at line \(mark.line), column \(mark.column): \(problem)"
            if let context { text += " (\(context.text) at line \(context.mark.line))" }
            return text
        }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            return located(mark, problem, context)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { quoted($0) }.joined(separator: ", ")
            return "YAML error at line \(context.mark.line): duplicate key \(keys)"
        case .reader(let problem, _, _, _):
            return "cannot read YAML: \(problem)"
        default:
            return "cannot read YAML: \(error)"
        }
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
