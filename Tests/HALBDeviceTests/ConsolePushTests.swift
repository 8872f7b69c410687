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
            let state = try await store.deviceStatuses(site: "lab", consoleVersion: "test").first { $0.device == "lb1" }
            #expect(state?.state == .offline)
            #expect(try await roles() == [])
            try await http.shutdown()
        }
    }

    /// "Ping host": an admin asks device lb1, through the console, whether it reaches a gateway; lb1 opens a TCP
    /// connection and says how it went. Only hosts of the site are tried.
    @Test func aDeviceChecksWhetherItReachesAHostOfItsSite() async throws {
        let gateway = try await TestServer.start()
        defer { Task { await gateway.kill() } }
        let closed = try freePort()  // nothing listens there
        let port = try freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-ping-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ConsoleStore(directory: directory.appendingPathComponent("console"))
        _ = try await store.createFirstAdmin(password: "correct horse battery")
        _ = try await store.createUser("viewer", password: "viewer password 1", role: .readOnly, actor: "test")
        let admin = try await store.logIn("admin", password: "correct horse battery").token
        let viewer = try await store.logIn("viewer", password: "viewer password 1").token
        _ = try await store.createSite(
            SiteWriter.node(try DeviceTests.site(port: port, gateway: gateway.port)),
            actor: "t"
        )
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
            let running = try await DeviceTests.start(managed.initialSite, source: .console(managed))
            func ping(_ body: String, token: String? = nil) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(
                    uri: "/api/v1/sites/lab/ping",
                    method: .post,
                    headers: [.authorization: "Bearer \(token ?? admin)"],
                    body: ByteBuffer(string: body)
                ) { ($0.status, String(buffer: $0.body)) }
            }
            // The gateway by name (its first port): reachable.
            let (status, body) = try await ping(#"{"device": "lb1", "target": "gw1"}"#)
            #expect(status == .ok, "\(body)")
            let result = try JSONDecoder().decode(PingResult.self, from: Data(body.utf8))
            #expect(result.reachable && result.address == "127.0.0.1" && result.port == gateway.port, "\(result)")
            #expect(result.milliseconds != nil)
            // An address of the site on a port where nothing listens: refused, and said so.
            let (_, refused) = try await ping(#"{"device": "lb1", "target": "127.0.0.1", "port": \#(closed)}"#)
            let answer = try JSONDecoder().decode(PingResult.self, from: Data(refused.utf8))
            #expect(!answer.reachable && answer.error == "connection refused", "\(answer)")
            // Not a host of the site, not a device of it, no port for an address, not an admin: refused by the console.
            for (request, expected) in [
                (#"{"device": "lb1", "target": "198.51.100.7", "port": 80}"#, HTTPResponse.Status.unprocessableContent),
                (#"{"device": "lb9", "target": "gw1"}"#, .unprocessableContent),
                (#"{"device": "lb1", "target": "127.0.0.1"}"#, .unprocessableContent),
                (#"{"device": "lb1"}"#, .badRequest),
            ] {
                let (status, body) = try await ping(request)
                #expect(status == expected, "\(request): \(body)")
            }
            #expect(try await ping(#"{"device": "lb1", "target": "gw1"}"#, token: viewer).0 == .forbidden)
            try await running.stop()
            try await http.shutdown()
        }
    }
}

/// The broker between the API and the agents, alone: a check nobody answers ends with no answer; an answer from
/// another device does not count; at most four checks wait per device.
@Suite struct ReachabilityBrokerTests {
    @Test func unansweredChecksEndAndAnswersCountOnlyFromTheDeviceAsked() async throws {
        let broker = ReachabilityBroker()
        #expect(
            try await broker.ask(
                site: "lab",
                device: "lb1",
                address: "192.0.2.21",
                port: 80,
                timeout: .milliseconds(50)
            )
                == nil
        )
        async let answered = broker.ask(
            site: "lab",
            device: "lb1",
            address: "192.0.2.21",
            port: 80,
            timeout: .seconds(20)
        )
        let checks = await broker.checks(site: "lab", device: "lb1", wait: .seconds(20))
        #expect(checks.map(\.address) == ["192.0.2.21"])
        let id = try #require(checks.first?.id)
        // Handed out once only.
        #expect(await broker.checks(site: "lab", device: "lb1", wait: .milliseconds(10)).isEmpty)
        await broker.answer(site: "lab", device: "lb2", ReachabilityAnswer(id: id, reachable: false))
        await broker.answer(site: "lab", device: "lb1", ReachabilityAnswer(id: id, reachable: true, milliseconds: 1))
        #expect(try await answered?.reachable == true)
    }

    @Test func atMostFourChecksWaitPerDevice() async throws {
        let broker = ReachabilityBroker()
        let waiting = Task {
            try await withThrowingTaskGroup(of: ReachabilityAnswer?.self) { group in
                for _ in 0..<ReachabilityBroker.maximumPending {
                    group.addTask {
                        try await broker.ask(site: "lab", device: "lb1", address: "a", port: 1, timeout: .seconds(60))
                    }
                }
                return try await group.reduce(into: 0) { count, answer in count += answer == nil ? 0 : 1 }
            }
        }
        // Once all four wait, a fifth is refused.
        var handed: [ReachabilityCheck] = []
        #expect(
            await eventually {
                handed += await broker.checks(site: "lab", device: "lb1", wait: .zero)
                return handed.count == ReachabilityBroker.maximumPending
            }
        )
        await #expect(throws: ConsoleError.self) {
            try await broker.ask(site: "lab", device: "lb1", address: "a", port: 1, timeout: .seconds(60))
        }
        for check in handed {
            await broker.answer(site: "lab", device: "lb1", ReachabilityAnswer(id: check.id, reachable: true))
        }
        #expect(try await waiting.value == ReachabilityBroker.maximumPending)
    }
}
