import HALBCore
import Hummingbird

/// The items of a site's lists.
extension ConsoleAPI {
    /// Gateways, devices and virtual servers, one at a time (`:collection` is their list).
    static func addSiteItemRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        group.get("sites/:site/:collection") { _, context in
            _ = try context.requireIdentity()
            let collection = try Self.collection(context)
            let stored = try await store.site(try context.parameters.require("site"))
            return Self.document(.sequence(SiteEditor.items(collection, in: stored.document)), version: stored.version)
        }
        group.post("sites/:site/:collection") { request, context in
            let identity = try context.requireAdmin()
            let collection = try Self.collection(context)
            let item = try await Self.body(request, context)
            let stored = try await store.changeSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "create \(collection.noun) \(SiteEditor.name(of: item) ?? "?")"
            ) { document in try SiteEditor.adding(item, to: collection, in: document) }
            let name = SiteEditor.name(of: item) ?? ""
            return Self.document(
                SiteEditor.item(collection, named: name, in: stored.document) ?? .null,
                version: stored.version,
                status: .created
            )
        }
        group.get("sites/:site/:collection/:name") { _, context in
            _ = try context.requireIdentity()
            let collection = try Self.collection(context)
            let name = try context.parameters.require("name")
            let stored = try await store.site(try context.parameters.require("site"))
            guard let item = SiteEditor.item(collection, named: name, in: stored.document) else {
                throw ConsoleError.notFound("no \(collection.noun) named \(name) in site \(stored.name)")
            }
            return Self.document(item, version: stored.version)
        }
        group.put("sites/:site/:collection/:name") { request, context in
            let identity = try context.requireAdmin()
            let collection = try Self.collection(context)
            let name = try context.parameters.require("name")
            let item = try await Self.body(request, context)
            let stored = try await store.changeSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "update \(collection.noun) \(name)"
            ) { document in try SiteEditor.replacing(name, in: collection, with: item, in: document) }
            let newName = SiteEditor.name(of: item) ?? name
            return Self.document(
                SiteEditor.item(collection, named: newName, in: stored.document) ?? .null,
                version: stored.version
            )
        }
        group.delete("sites/:site/:collection/:name") { request, context in
            let identity = try context.requireAdmin()
            let collection = try Self.collection(context)
            let name = try context.parameters.require("name")
            let stored = try await store.changeSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "delete \(collection.noun) \(name)"
            ) { document in try SiteEditor.removing(name, from: collection, in: document) }
            var response = Response(status: .noContent)
            response.headers[.eTag] = "\"\(stored.version)\""
            return response
        }
    }
}
