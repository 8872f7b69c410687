import Foundation
import HALBConsole
import HALBCore
import HALBDemo
import HALBWire
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import Testing

/// The demo's pieces in process: its site, its console's store, its gateways and the controls that stop and start
/// them (the whole demo runs in HALBIntegrationTests' DemoTests).
@Suite(.timeLimit(.minutes(2))) struct DemoControlTests {
    @Test func theDemoSiteIsValidAndItsGatewaysAreTheOnesTheDemoRuns() throws {
        let site = try SiteReader.load(yaml: DemoSite.yaml)
        #expect(site.devices.map(\.name) == DemoSite.devices)
        #expect(site.gateways.map(\.ports.gateway) == [18081, 18082, 18083])
        #expect(DemoDevices.adminAddress(of: "lb1") == "127.0.0.1:9101")
        #expect(DemoDevices.adminAddress(of: "lb2") == "127.0.0.1:9102")
    }

    @Test func theDemoConsoleHoldsTheSiteAnAdminTokenAndAJoinTokenPerDevice() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-demo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let console = try await DemoConsole.create(in: directory)
        #expect(try await console.store.site("demo").version == 1)
        #expect(Set(console.joinTokens.keys) == Set(DemoSite.devices))
        let identity = try await console.store.identity(forToken: console.token)
        #expect(identity?.role == .admin)
    }

    @Test func gatewaysStopAndStartByNameAndAnUnknownNameIs404() async throws {
        // Port 0: the test does not take the demo's own ports.
        let gateways = DemoGateways(
            gateways: [.init(name: "gw1", host: "127.0.0.1", port: 0)],
            group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test")
        )
        let devices = DemoDevices(
            stateDirectory: FileManager.default.temporaryDirectory,
            joinTokens: [:],
            consoleURL: AsyncStream { $0.finish() },
            logLevel: "info"
        )
        try await gateways.startAll()
        let app = Application(router: DemoControl.router(gateways: gateways, devices: devices))
        try await app.test(.router) { client in
            let stopped = try await client.execute(uri: "/demo/gateways/gw1/stop", method: .post)
            #expect(stopped.status == .ok)
            #expect(String(buffer: stopped.body) == "stopped gw1\n")
            let started = try await client.execute(uri: "/demo/gateways/gw1/start", method: .post)
            #expect(String(buffer: started.body) == "started gw1\n")
            #expect(try await client.execute(uri: "/demo/gateways/gw9/stop", method: .post).status == .notFound)
            #expect(try await client.execute(uri: "/demo/devices/lb9/start", method: .post).status == .notFound)
        }
        _ = await gateways.stop("gw1")
    }

    @Test func theInstructionsNameTheAddressesAndThePassword() {
        let text = DemoControl.instructions(
            listen: "127.0.0.10:8080",
            admin: "127.0.0.1:9100",
            console: "http://127.0.0.1:8440",
            password: "pw",
            token: "tk"
        )
        #expect(text.contains("Open the console's web page: http://127.0.0.1:8440/   user admin, password pw"))
        #expect(text.contains("export HALB_CONSOLE=http://127.0.0.1:8440 HALB_TOKEN=tk"))
        #expect(text.contains("curl -s -X POST http://127.0.0.1:9100/demo/devices/lb1/stop"))
    }
}
