import HALBCore
import HALBWire
import Hummingbird

/// Sites as whole documents.
extension ConsoleAPI {
    /// The sites, whole: list, create, read, export, replace, delete.
    static func addSiteRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        group.get("sites") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(try await store.sites().map { SiteSummary(name: $0.name, version: $0.version) })
        }
        group.post("sites") { request, context in
            let identity = try context.requireAdmin()
            let stored = try await store.createSite(try await Self.body(request, context), actor: identity.user)
            return Self.document(stored.document, version: stored.version, status: .created)
        }
        group.get("sites/:site") { _, context in
            _ = try context.requireIdentity()
            let stored = try await store.site(try context.parameters.require("site"))
            return Self.document(stored.document, version: stored.version)
        }
        group.get("sites/:site/export") { _, context in
            _ = try context.requireIdentity()
            let stored = try await store.site(try context.parameters.require("site"))
            var response = Self.text(stored.yaml, contentType: "application/yaml; charset=utf-8")
            response.headers[.eTag] = "\"\(stored.version)\""
            return response
        }
        group.put("sites/:site") { request, context in
            let identity = try context.requireAdmin()
            let name = try context.parameters.require("site")
            let document = try await Self.body(request, context)
            let stored = try await store.changeSite(
                name,
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "replace site"
            ) { _ in document }
            return Self.document(stored.document, version: stored.version)
        }
        group.delete("sites/:site") { request, context in
            let identity = try context.requireAdmin()
            try await store.deleteSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user
            )
            return Response(status: .noContent)
        }

    }
}
