import Foundation
import HALBCore
import Hummingbird

/// The audit log.
extension ConsoleAPI {
    /// The audit log, newest first, filtered by site, actor, action and time.
    static func addAuditRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        group.get("audit") { request, context in
            _ = try context.requireIdentity()
            let parameters = request.uri.queryParameters
            let query = AuditQuery(
                site: parameters.get("site"),
                actor: parameters.get("actor"),
                action: parameters.get("action"),
                since: try Self.timeParameter("since", in: parameters),
                until: try Self.timeParameter("until", in: parameters),
                limit: try Self.integerParameter("limit", in: parameters, range: 1...1000) ?? 100
            )
            return try Self.json(try await store.audit(query))
        }
    }

    /// The ISO 8601 time of query parameter `name` (`2026-12-06T13:00:00Z`, fractional seconds allowed), if given.
    static func timeParameter(_ name: String, in query: Parameters) throws(ConsoleError) -> Date? {
        guard let text = query.get(name) else { return nil }
        let plain = Date.ISO8601FormatStyle()
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let date = (try? plain.parse(text)) ?? (try? fractional.parse(text)) else {
            throw .invalidRequest([
                ConfigurationIssue(
                    path: name,
                    message:
                        "\(DisplayText.quoted(text, limit: 40)) is not an ISO 8601 time such as 2026-12-06T13:00:00Z"
                )
            ])
        }
        return date
    }
}
