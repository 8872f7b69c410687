import Hummingbird

/// The history of a site.
extension ConsoleAPI {
    /// A site's history: the versions, an old document, a rollback.
    static func addVersionRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        group.get("sites/:site/versions") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(try await store.versions(of: try context.parameters.require("site")))
        }
        group.get("sites/:site/versions/:version") { _, context in
            _ = try context.requireIdentity()
            let stored = try await store.site(
                try context.parameters.require("site"),
                version: try Self.version(context)
            )
            return Self.document(stored.document, version: stored.version)
        }
        group.post("sites/:site/versions/:version/rollback") { request, context in
            let identity = try context.requireAdmin()
            let stored = try await store.rollback(
                try context.parameters.require("site"),
                to: try Self.version(context),
                basedOn: try Self.baseVersion(request),
                actor: identity.user
            )
            return Self.document(stored.document, version: stored.version)
        }
    }
}
