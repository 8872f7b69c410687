import Crypto
import Foundation
import HALBWire
import Hummingbird

/// Device enrolment and status, for admins.
extension ConsoleAPI {
    /// A site's devices as admins see them: join tokens to enrol them, and their agent status.
    static func addDeviceRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        // Not under sites/:site/devices/..., which would hide the devices list from sites/:site/:collection.
        group.post("sites/:site/join-tokens") { request, context in
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let (token, expires) = try await store.createJoinToken(
                site: try context.parameters.require("site"),
                device: try Self.field("device", in: body),
                actor: identity.user
            )
            return try Self.json(JoinTokenCreated(token: token, expiresAt: expires), status: .created)
        }
        group.get("sites/:site/status") { request, context in
            _ = try context.requireIdentity()
            let site = try context.parameters.require("site")
            let query = request.uri.queryParameters
            let wait = try Self.integerParameter("wait", in: query, range: 0...Self.longestStatusWait) ?? 0
            let since = query.get("since")
            // Long poll: the page waits for the next change instead of asking again and again. The status is read
            // a few times a second while a client waits (heartbeats and timeouts change it, not only writes).
            let deadline = ContinuousClock.now.advanced(by: .seconds(wait))
            while true {
                var status = SiteStatus(
                    site: site,
                    version: try await store.site(site).version,
                    devices: try await store.deviceStatuses(site: site, consoleVersion: Self.softwareVersion)
                )
                status.fingerprint = Self.fingerprint(of: status)
                if since == nil || status.fingerprint != since || ContinuousClock.now >= deadline {
                    return try Self.json(status)
                }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// The longest `wait` of `GET /api/v1/sites/{site}/status` (seconds).
    static let longestStatusWait = 30

    static func fingerprint(of status: SiteStatus) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = (try? encoder.encode(status)) ?? Data()
        return SHA256.hash(data: data).prefix(12).map { String(format: "%02x", $0) }.joined()
    }
}
