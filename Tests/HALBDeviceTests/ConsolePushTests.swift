import AsyncHTTPClient
import Foundation
import HALBAgent
import HALBConsole
import HALBCore
import HALBDevice
import HALBFailover
import HALBTestSupport
import HALBWire
import Hummingbird
import HummingbirdTesting
import Logging
import NIOPosix
import Prometheus
import Testing

/// A managed device, assembled in process, follows its console: a change pushed by the console reaches the same
/// `apply` as the file and the start, and the VRRP router.
@Suite(.timeLimit(.minutes(1))) struct ConsolePushTests {
    @Test func aConsolePushIsAppliedThroughTheSameApply() async throws {
        let gateway = try await TestServer.start()
        defer { Task { await gateway.kill() } }
        let port = try freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-push-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ConsoleStore(directory: directory.appendingPathComponent("console"))
        let first = try DeviceTests.site(port: port, gateway: gateway.port)
        _ = try await store.createSite(SiteWriter.node(first), actor: "test")
        let joinToken = try await store.createJoinToken(site: "lab", device: "lb1", actor: "test").token
        let app = Application(
            router: ConsoleAPI.router(store: store),
            configuration: .init(address: .hostname("127.0.0.1", port: 0))
        )
        try await app.test(.live) { client in
            let http = ConnectionFailure.makeClient()
            let managed = try await ManagedConfiguration.prepare(
                console: "http://127.0.0.1:\(try #require(client.port))",
                stateDirectory: directory.appendingPathComponent("device").path,
                device: "lb1",
                joinToken: joinToken,
                http: http,
                logger: DeviceTests.logger
            )
            #expect(managed.fetched)
            let running = try await DeviceTests.start(
                managed.initialSite,
                source: .console(managed)
            )
            #expect(await eventually { running.router.updates.count == 1 })
            #expect(try await echoRoundTrip(port: port) == "ping")

            // The console's next version lowers lb1's priority: the agent's long poll brings it to `apply`.
            _ = try await store.changeSite("lab", basedOn: 1, actor: "test", change: "priority") { _ in
                SiteWriter.node(try DeviceTests.site(port: port, gateway: gateway.port, priority: 150))
            }
            #expect(await eventually { await running.device.site?.version == 2 })
            #expect(running.router.updates.last?.first?.priority == 150)
            // And the console hears of it.
            #expect(
                await eventually {
                    let statuses = (try? await store.deviceStatuses(site: "lab", consoleVersion: "test")) ?? []
                    return statuses.first { $0.device == "lb1" }?.appliedVersion == 2
                }
            )
            func roles() async throws -> [VirtualServerRole] {
                let statuses = try await store.deviceStatuses(site: "lab", consoleVersion: "test")
                return statuses.first { $0.device == "lb1" }?.roles.map(\.role) ?? []
            }
            #expect(await eventually { (try? await roles()) == [.primary] })
            // Stopping, the device says so in a last heartbeat: the console shows it offline at once, primary no more.
            try await running.stop()
            #expect(try await roles() == [.stopped])
            let state = try await store.deviceStatuses(site: "lab", consoleVersion: "test").first { $0.device == "lb1" }
            #expect(state?.state == .offline)
            try await http.shutdown()
        }
    }
}
