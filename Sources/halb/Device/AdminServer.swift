import Foundation
import HALBBalancer
import HALBFailover
import Hummingbird
import Logging
import NIOCore
import Prometheus

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

    static func router(
        device: String,
        balancer: Balancer,
        failover: FailoverHandle,
        registry: PrometheusCollectorRegistry
    ) -> Router<BasicRequestContext> {
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
                device: device,
                version: HALBCommand.version,
                balancer: await balancer.status(),
                failover: await failover.router?.status()
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
