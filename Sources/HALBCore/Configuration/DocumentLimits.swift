/// The bounds every configuration document (a site file, an API body, a device's cached configuration) is read
/// within, checked while the document is parsed and before its parts are built, so that a small hostile document
/// ("billion laughs" aliases, deep nesting, huge lists) costs no more than a large honest one.
///
/// The defaults are far beyond any real site: a site of 1 000 gateways and 200 virtual servers is about 15 000 nodes
/// and 300 KiB.
public struct DocumentLimits: Sendable, Hashable {
    /// The largest document, in bytes.
    public var maximumBytes: Int
    /// The deepest nesting of lists and mappings (the site's own structure needs 7).
    public var maximumDepth: Int
    /// The most nodes (scalars, lists and mappings) the document may hold, counting every alias as the whole
    /// node it stands for, as every later walk of the tree sees it.
    public var maximumNodes: Int
    /// The most items of one list or entries of one mapping.
    public var maximumItems: Int

    /// Creates limits.
    public init(maximumBytes: Int, maximumDepth: Int, maximumNodes: Int, maximumItems: Int) {
        self.maximumBytes = maximumBytes
        self.maximumDepth = maximumDepth
        self.maximumNodes = maximumNodes
        self.maximumItems = maximumItems
    }

    /// The limits of site files and site documents: 4 MiB, depth 32, 250 000 nodes, 10 000 items per list.
    public static let site = DocumentLimits(
        maximumBytes: 4 << 20,
        maximumDepth: 32,
        maximumNodes: 250_000,
        maximumItems: 10_000
    )

    /// `bytes` in the unit an operator reads best (`512 bytes`, `4 MiB`).
    public static func describe(bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}

/// Counts the nodes of a document as it is built and refuses it past its ``DocumentLimits``.
struct DocumentBudget {
    let limits: DocumentLimits
    private(set) var nodes = 0

    init(_ limits: DocumentLimits) {
        self.limits = limits
    }

    /// Takes `count` nodes from the budget.
    ///
    /// - Throws: ``ConfigurationError`` naming `path` when the document would hold more nodes than allowed.
    mutating func take(_ count: Int, at path: ConfigurationPath) throws(ConfigurationError) {
        self.nodes += count
        if self.nodes > self.limits.maximumNodes {
            throw ConfigurationError(issues: [
                ConfigurationIssue(
                    path: path.description,
                    message:
                        "the document holds more than \(self.limits.maximumNodes) values (counting each alias as what it stands for); refused"
                )
            ])
        }
    }

    /// Checks that a list or mapping opened at `path` is not nested deeper than allowed.
    func enter(depth: Int, at path: ConfigurationPath) throws(ConfigurationError) {
        if depth > self.limits.maximumDepth {
            throw ConfigurationError(issues: [
                ConfigurationIssue(
                    path: path.description,
                    message: "lists and mappings are nested more than \(self.limits.maximumDepth) deep; refused"
                )
            ])
        }
    }

    /// Checks that a list or mapping at `path` does not get one more item than allowed.
    func add(item count: Int, at path: ConfigurationPath) throws(ConfigurationError) {
        if count > self.limits.maximumItems {
            throw ConfigurationError(issues: [
                ConfigurationIssue(
                    path: path.description,
                    message: "has more than \(self.limits.maximumItems) items; refused"
                )
            ])
        }
    }

    /// Checks a document's size before it is parsed.
    static func check(size: Int, limits: DocumentLimits) throws(ConfigurationError) {
        if size > limits.maximumBytes {
            throw ConfigurationError(issues: [
                ConfigurationIssue(
                    path: "",
                    message:
                        "the document is \(size) bytes, more than the limit of \(DocumentLimits.describe(bytes: limits.maximumBytes))"
                )
            ])
        }
    }
}
