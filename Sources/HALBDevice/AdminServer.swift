import Foundation
import HALBBalancer
import HALBCore
import HALBFailover
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// The device's admin endpoint: `/metrics` (Prometheus text), `/status` (JSON) and `/healthz` (200 `ok` while
/// serving, 503 `draining` during shutdown).
enum AdminServer {
    /// What `/status` returns: the device and its balancer.
    struct DeviceStatus: Encodable {
        var device: String
        var version: String
        var balancer: BalancerStatus
        /// The VRRP instances, when the device runs failover for some virtual server.
        var failover: [VirtualRouterStatus]?
    }

    /// The admin endpoint of `device` on `options`' address; it warns when that is beyond loopback.
    static func application(
        device: RunningDevice,
        options: DeviceOptions,
        group: any EventLoopGroup,
        registry: PrometheusCollectorRegistry,
        logger: Logger
    ) -> some Service {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        return Application(
            router: Self.router(device: device, registry: registry),
            configuration: .init(address: .hostname(options.adminHost, port: options.adminPort), serverName: "halb"),
            onServerRunning: { channel in
                let address = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                logger.notice("Admin endpoint listening", metadata: ["admin.address": "\(address)"])
                if let ip = channel.localAddress?.ipAddress, !Self.isLoopback(ip) {
                    logger.warning(
                        "The admin endpoint has no authentication and listens beyond loopback: keep its port behind a firewall or a management network",
                        metadata: ["admin.address": "\(address)"]
                    )
                }
            },
            eventLoopGroupProvider: .shared(group),
            logger: quiet
        )
    }

    /// Whether `ip` is a loopback address (127.0.0.0/8, ::1).
    public static func isLoopback(_ ip: String) -> Bool {
        ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    static func router(device: RunningDevice, registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let balancer = device.balancer
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            let draining = await balancer.isDraining
            return Response(
                status: draining ? .serviceUnavailable : .ok,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: draining ? "draining\n" : "ok\n"))
            )
        }
        router.get("/metrics") { _, _ -> Response in
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
        router.get("/status") { _, _ -> Response in
            let status = DeviceStatus(
                device: device.name,
                version: HALBVersion.current,
                balancer: await balancer.status(),
                failover: await device.failover.status().nilIfEmpty
            )
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(status)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8)))
            )
        }
        return router
    }
}

extension Array {
    fileprivate var nilIfEmpty: Self? { self.isEmpty ? nil : self }
}
