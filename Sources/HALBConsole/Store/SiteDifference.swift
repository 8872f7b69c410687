import HALBCore

/// What changed between two versions of a site, in words, for the audit log: `gateways: added gw3, changed gw1;
/// virtualServers: removed web`.
enum SiteDifference {
    /// The difference between two site documents, as ``SiteWriter`` writes them.
    static func describe(from before: ConfigNode, to after: ConfigNode) -> String {
        var parts: [String] = []
        for collection in SiteCollection.allCases {
            let oldItems = Self.byName(SiteEditor.items(collection, in: before))
            let newItems = Self.byName(SiteEditor.items(collection, in: after))
            var changes: [String] = []
            for (name, _) in newItems where !oldItems.contains(where: { $0.0 == name }) {
                changes.append("added \(name)")
            }
            for (name, item) in newItems {
                if let previous = oldItems.first(where: { $0.0 == name }), previous.1 != item {
                    changes.append("changed \(name)")
                }
            }
            for (name, _) in oldItems where !newItems.contains(where: { $0.0 == name }) {
                changes.append("removed \(name)")
            }
            if !changes.isEmpty { parts.append("\(collection.key): \(changes.joined(separator: ", "))") }
        }
        return parts.isEmpty ? "no change" : parts.joined(separator: "; ")
    }

    private static func byName(_ items: [ConfigNode]) -> [(String, ConfigNode)] {
        items.map { (SiteEditor.name(of: $0) ?? "?", $0) }
    }
}
