import ArgumentParser
import Foundation
import HALBCore
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// `halb demo`: a whole demo site on this machine, no root and no file needed.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a demo site on this machine: three gateways and two devices with failover, on loopback.",
        discussion: """
            Starts three small HTTP gateways on 127.0.0.1:18081-18083 (each answers with its own name) and two \
            devices, lb1 and lb2, that serve http://127.0.0.10:8080/ with failover between them (VRRP over UDP on \
            loopback; the primary listens on the VIP). Needs no root and no file. Stop it with Ctrl-C.
            """
    )

    @OptionGroup var options: DeviceOptions

    func run() async throws {
        let logger = self.options.makeLogger()
        let site = try SiteReader.load(yaml: DemoSite.yaml)
        let siteFile = FileManager.default.temporaryDirectory.appendingPathComponent("halb-demo-\(getpid()).yaml").path
        try DemoSite.yaml.write(toFile: siteFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: siteFile) }

        let group = MultiThreadedEventLoopGroup.singleton
        let gateways = DemoGateways(
            gateways: site.gateways.map { .init(name: $0.name, host: $0.address, port: $0.ports.gateway) },
            group: group,
            logger: logger
        )
        do {
            try await gateways.startAll()
        } catch {
            throw DeviceRuntime.fail("cannot start the demo gateways on 127.0.0.1:18081-18083: \(error)")
        }
        let devices = DemoDevices(siteFile: siteFile, logLevel: self.options.logLevel)
        let vs = site.virtualServers[0]
        let listen = "\(vs.vip.ipv4.split(separator: "/")[0]):\(vs.payload(.gateway)!.port)"

        let router = Router()
        router.post("/demo/gateways/:name/stop") { _, context -> String in
            let name = try context.parameters.require("name")
            guard await gateways.stop(name) else { throw HTTPError(.notFound, message: "no gateway \(name)") }
            return "stopped \(name)\n"
        }
        router.post("/demo/gateways/:name/start") { _, context -> String in
            let name = try context.parameters.require("name")
            guard try await gateways.start(name) else { throw HTTPError(.notFound, message: "no gateway \(name)") }
            return "started \(name)\n"
        }
        router.post("/demo/devices/:name/stop") { _, context -> String in
            let name = try context.parameters.require("name")
            guard devices.stop(name) else { throw HTTPError(.notFound, message: "no device \(name)") }
            return "stopping \(name)\n"
        }
        router.post("/demo/devices/:name/start") { _, context -> String in
            let name = try context.parameters.require("name")
            guard try devices.start(name) else { throw HTTPError(.notFound, message: "no device \(name)") }
            return "started \(name)\n"
        }
        let admin = self.options.adminHostPort
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(admin.host, port: admin.port), serverName: "halb-demo"),
            onServerRunning: { channel in
                let address = channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                logger.notice("Admin endpoint listening", metadata: ["admin.address": "\(address)"])
                FileHandle.standardOutput.write(Data(Self.instructions(listen: listen, admin: address).utf8))
            },
            eventLoopGroupProvider: .shared(group),
            logger: quiet
        )
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: gateways), .init(service: app), .init(service: devices)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await services.run()
        } catch let error as IOError {
            throw DeviceRuntime.fail("cannot listen on \(admin.host):\(admin.port) (demo admin endpoint): \(error)")
        }
    }

    private static func instructions(listen: String, admin: String) -> String {
        """

        HALB demo is running: site "demo", devices lb1 (primary) and lb2 (secondary) serve virtual server "web" on
        http://\(listen)/, balancing gw1, gw2, gw3 (127.0.0.1:18081-18083) by least connections, with HTTP
        health checks every 500ms and failover between the devices (VRRP over UDP on loopback).

        Try, in another terminal:
          for i in 1 2 3 4 5 6; do curl -s http://\(listen)/; done      # the gateways take turns
          curl -s -X POST http://\(admin)/demo/gateways/gw2/stop  # stop gw2: the devices mark it down
          for i in 1 2 3 4; do curl -s http://\(listen)/; done          # only gw1 and gw3 answer
          curl -s -X POST http://\(admin)/demo/devices/lb1/stop   # stop the primary: lb2 takes over
          for i in 1 2 3 4; do curl -s http://\(listen)/; done          # still answered, now through lb2
          curl -s -X POST http://\(admin)/demo/devices/lb1/start  # lb1 returns and takes the VIP back
          curl -s http://\(DemoDevices.adminAddress(of: "lb1"))/status                          # a device's state (JSON)

        Press Ctrl-C to stop.

        """
    }
}
