import HALBCore

/// A list of a site that the API edits one item at a time, each item named by its `name`.
public enum SiteCollection: String, CaseIterable, Sendable {
    case gateways
    case devices
    case virtualServers = "virtual-servers"

    /// The key in the site document.
    public var key: String {
        switch self {
        case .gateways: "gateways"
        case .devices: "devices"
        case .virtualServers: "virtualServers"
        }
    }

    /// What one item is called in messages.
    var noun: String {
        switch self {
        case .gateways: "gateway"
        case .devices: "device"
        case .virtualServers: "virtual server"
        }
    }
}

/// Edits site documents (configuration trees) item by item. Nothing here validates a whole site: the caller reads
/// the result with ``SiteReader`` before storing it.
enum SiteEditor {
    /// The items of `collection` in `document`.
    static func items(_ collection: SiteCollection, in document: ConfigNode) -> [ConfigNode] {
        guard case .sequence(let items) = document[collection.key] else { return [] }
        return items
    }

    /// The item of `collection` named `name`.
    static func item(_ collection: SiteCollection, named name: String, in document: ConfigNode) -> ConfigNode? {
        Self.items(collection, in: document).first { Self.name(of: $0) == name }
    }

    /// `document` with `item` appended to `collection`.
    ///
    /// - Throws: ``ConsoleError`` when the item has no name or one of that name exists.
    static func adding(
        _ item: ConfigNode,
        to collection: SiteCollection,
        in document: ConfigNode
    ) throws(ConsoleError) -> ConfigNode {
        guard case .mapping = item else {
            throw .badRequest("the body must be a mapping (a JSON object) for one \(collection.noun)")
        }
        guard let name = Self.name(of: item) else {
            throw .invalid([ConfigurationIssue(path: "name", message: "required: the \(collection.noun)'s name")])
        }
        if Self.item(collection, named: name, in: document) != nil {
            throw .conflict("\(collection.noun) \(name) exists already")
        }
        return document.replacing(collection.key, with: .sequence(Self.items(collection, in: document) + [item]))
    }

    /// `document` with the item `name` of `collection` replaced by `item` (which may rename it).
    ///
    /// - Throws: ``ConsoleError`` when there is no such item, or the new name is taken.
    static func replacing(
        _ name: String,
        in collection: SiteCollection,
        with item: ConfigNode,
        in document: ConfigNode
    ) throws(ConsoleError) -> ConfigNode {
        guard case .mapping = item else {
            throw .badRequest("the body must be a mapping (a JSON object) for one \(collection.noun)")
        }
        var items = Self.items(collection, in: document)
        guard let index = items.firstIndex(where: { Self.name(of: $0) == name }) else {
            throw .notFound("no \(collection.noun) named \(name)")
        }
        // A body without a name keeps the item's name.
        let replacement = Self.name(of: item) == nil ? item.replacing("name", with: .plain(name)) : item
        if let newName = Self.name(of: replacement), newName != name,
            Self.item(collection, named: newName, in: document) != nil
        {
            throw .conflict("\(collection.noun) \(newName) exists already")
        }
        items[index] = replacement
        return document.replacing(collection.key, with: .sequence(items))
    }

    /// `document` without the item `name` of `collection`.
    ///
    /// - Throws: ``ConsoleError`` when there is no such item.
    static func removing(
        _ name: String,
        from collection: SiteCollection,
        in document: ConfigNode
    ) throws(ConsoleError) -> ConfigNode {
        let items = Self.items(collection, in: document)
        guard items.contains(where: { Self.name(of: $0) == name }) else {
            throw .notFound("no \(collection.noun) named \(name)")
        }
        return document.replacing(collection.key, with: .sequence(items.filter { Self.name(of: $0) != name }))
    }

    static func name(of item: ConfigNode) -> String? {
        guard case .scalar(let text, _) = item["name"] else { return nil }
        return text
    }
}

extension ConfigNode {
    /// The value of `key` in a mapping; `nil` when absent or not a mapping.
    subscript(key: String) -> ConfigNode? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// This mapping with `key` set to `value` (added at the end when absent).
    func replacing(_ key: String, with value: ConfigNode) -> ConfigNode {
        guard case .mapping(var entries) = self else { return .mapping([ConfigEntry(key, value)]) }
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        } else {
            entries.append(ConfigEntry(key, value))
        }
        return .mapping(entries)
    }
}
