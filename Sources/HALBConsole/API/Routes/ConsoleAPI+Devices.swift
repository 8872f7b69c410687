import Crypto
import Foundation
import HALBCore
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

    /// `POST /api/v1/sites/{site}/ping` (admins): device `device` tries a TCP connection to a gateway or an address
    /// of the site, and says how it went.
    static func addPingRoute(
        to group: RouterGroup<ConsoleRequestContext>,
        store: any ConsoleStorage,
        reachability: ReachabilityBroker
    ) {
        group.post("sites/:site/ping") { request, context in
            _ = try context.requireAdmin()
            let site = try context.parameters.require("site")
            let buffer = try await request.body.collect(upTo: 4096)
            let ping: PingRequest
            do {
                ping = try JSONDecoder().decode(PingRequest.self, from: Data(buffer.readableBytesView))
            } catch {
                throw ConsoleError.badRequest("the body must be {\"device\": ..., \"target\": ..., \"port\": ...}")
            }
            let stored = try await store.site(site).site
            guard stored.devices.contains(where: { $0.name == ping.device }) else {
                throw ConsoleError.invalidRequest([
                    ConfigurationIssue(
                        path: "device",
                        message: "\(DisplayText.quoted(ping.device, limit: 64)) is not a device of site \(site)"
                    )
                ])
            }
            let gateway = stored.gateways.first { $0.name == ping.target }
            let address = gateway?.address ?? ping.target
            // Only hosts of the site: the page is no port scanner, and the device refuses any other anyway.
            guard stored.hostAddresses.contains(address) else {
                throw ConsoleError.invalidRequest([
                    ConfigurationIssue(
                        path: "target",
                        message:
                            "\(DisplayText.quoted(ping.target, limit: 64)) is neither a gateway nor an address of site \(site)"
                    )
                ])
            }
            guard let port = ping.port ?? gateway?.ports.gateway, (1...65535).contains(port) else {
                throw ConsoleError.invalidRequest([
                    ConfigurationIssue(path: "port", message: "a TCP port from 1 to 65535 is required for an address")
                ])
            }
            guard
                let answer = try await reachability.ask(
                    site: site,
                    device: ping.device,
                    address: address,
                    port: port,
                    timeout: .seconds(10)
                )
            else {
                throw ConsoleError.unavailable("device \(ping.device) did not answer within 10 s (is it online?)")
            }
            return try Self.json(
                PingResult(
                    device: ping.device,
                    address: address,
                    port: port,
                    reachable: answer.reachable,
                    milliseconds: answer.milliseconds,
                    error: answer.error.map { String($0.prefix(200)) }
                )
            )
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
