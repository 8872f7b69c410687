import Hummingbird

/// The audit log.
extension ConsoleAPI {
    /// The audit log, newest first.
    static func addAuditRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        group.get("audit") { request, context in
            _ = try context.requireIdentity()
            let site = request.uri.queryParameters.get("site")
            let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100
            return try Self.json(try await store.audit(site: site, limit: limit))
        }
    }
}
