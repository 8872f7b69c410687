import ArgumentParser
import Foundation
import HALBCore
import Hummingbird
import NIOCore
import NIOPosix

/// `halb demo`: a whole demo site on this machine, no root and no file needed.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a demo site on this machine: three gateways and a device on loopback.",
        discussion: """
            Starts three small HTTP gateways on 127.0.0.1:18081-18083 (each answers with its own name) and a device \
            that balances them on http://127.0.0.10:8080/. Needs no root and no file. Stop it with Ctrl-C.
            """
    )

    @OptionGroup var options: DeviceOptions

    func run() async throws {
        let logger = self.options.makeLogger()
        let site = try SiteReader.load(yaml: DemoSite.yaml)
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
        let admin = self.options.adminHostPort
        let vs = site.virtualServers[0]
        let listen = "\(vs.vip.ipv4.split(separator: "/")[0]):\(vs.payload(.gateway)!.port)"
        try await DeviceRuntime(
            source: .embedded(DemoSite.yaml),
            device: DemoSite.device,
            adminHost: admin.host,
            adminPort: admin.port,
            drainTimeout: .seconds(2),
            threads: self.options.threadCount,
            logger: logger,
            extraRoutes: { router in
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
            },
            extraServices: [gateways],
            onReady: { adminAddress in
                FileHandle.standardOutput.write(
                    Data("""

                    HALB demo is running: site "demo", device lb1, virtual server "web" on http://\(listen)/
                    balancing gw1, gw2, gw3 (127.0.0.1:18081-18083) by least connections, HTTP health checks every 500ms.

                    Try, in another terminal:
                      for i in 1 2 3 4 5 6; do curl -s http://\(listen)/; done      # the gateways take turns
                      curl -s -X POST http://\(adminAddress)/demo/gateways/gw2/stop  # stop gw2: the log says it is down
                      for i in 1 2 3 4; do curl -s http://\(listen)/; done          # only gw1 and gw3 answer
                      curl -s -X POST http://\(adminAddress)/demo/gateways/gw2/start # gw2 comes back up
                      curl -s http://\(adminAddress)/status                          # health and connections (JSON)
                      curl -s http://\(adminAddress)/metrics                         # Prometheus metrics

                    Press Ctrl-C to stop.

                    """.utf8)
                )
            }
        ).run()
    }
}
