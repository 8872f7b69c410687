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
        group.get("sites/:site/status") { _, context in
            _ = try context.requireIdentity()
            let site = try context.parameters.require("site")
            let devices = try await store.deviceStatuses(site: site, consoleVersion: Self.softwareVersion)
            let version = try await store.site(site).version
            return try Self.json(SiteStatus(site: site, version: version, devices: devices))
        }
    }
}
