import AsyncHTTPClient
import Foundation
import HALBAgent
import HALBConsole
import HALBCore
import HALBTestSupport
import HALBWire
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import Synchronization
import Testing

/// A value shared between tasks.
private final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}

/// Answers 503 to the first `count` acknowledgements, and passes everything else to the console.
private struct FailingAcknowledgements<Inner: HTTPResponder>: HTTPResponder
where Inner.Context == ConsoleRequestContext {
    let inner: Inner
    let left: Shared<Int>

    init(_ inner: Inner, count: Int) {
        self.inner = inner
        self.left = Shared(count)
    }

    func respond(to request: Request, context: ConsoleRequestContext) async throws -> Response {
        if request.uri.path == "/agent/v1/ack",
            self.left.value.withLock({ left in
                defer { left -= 1 }
                return left > 0
            })
        {
            return Response(status: .serviceUnavailable)
        }
        return try await self.inner.respond(to: request, context: context)
    }
}

/// A managed device's agent against a real console in process, on a loopback port.
@Suite(.timeLimit(.minutes(1))) struct AgentServiceTests {
    private let site = """
        site: lab
        gateways:
          - { name: gw1, address: 192.0.2.21, ports: { gateway: 8080 } }
        devices:
          - { name: lb1, address: 192.0.2.11 }
        virtualServers:
          - name: web
            vip: { ipv4: 192.0.2.100/24 }
            devices: [lb1]
            payloads:
              gateway: { port: 80, gateways: [gw1] }

        """

    /// A console in process (its store in a temporary directory with site `lab`, the REST and agent APIs on a loopback
    /// port; the first `failingAcknowledgements` ACKs answered 503) and device lb1 enrolled with it. `body` gets the
    /// store, the device's client and its state directory; the client is shut down afterwards.
    private func withEnrolledDevice(
        failingAcknowledgements: Int = 0,
        _ body:
            @Sendable (_ store: ConsoleStore, _ client: AgentClient, _ state: AgentStateDirectory) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-agent-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ConsoleStore(directory: directory.appendingPathComponent("console"))
        _ = try await store.createSite(try ConfigNode.parse(yaml: self.site), actor: "test")
        let joinToken = try await store.createJoinToken(site: "lab", device: "lb1", actor: "test").token
        let app = Application(
            responder: FailingAcknowledgements(
                ConsoleAPI.router(store: store).buildResponder(),
                count: failingAcknowledgements
            ),
            configuration: .init(address: .hostname("127.0.0.1", port: 0))
        )
        try await app.test(.live) { client in
            let http = ConnectionFailure.makeClient()
            do {
                let identity = try await AgentClient.enrol(
                    console: "http://127.0.0.1:\(try #require(client.port))",
                    joinToken: joinToken,
                    device: "lb1",
                    http: http
                )
                try await body(
                    store,
                    AgentClient(identity: identity, http: http),
                    AgentStateDirectory(directory.appendingPathComponent("device").path)
                )
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    @Test func aFailedAcknowledgementIsRetriedAndLogged() async throws {
        try await self.withEnrolledDevice(failingAcknowledgements: 2) { store, agentClient, state in
            let logs = InMemoryLogHandler()
            let applied = Shared<[Site]>([])
            let agent = AgentService(
                client: agentClient,
                state: state,
                logger: Logger(label: "test") { _ in logs },
                initialVersion: 0,
                apply: { site in applied.value.withLock { $0.append(site) } },
                report: { AgentReport(softwareVersion: "test", appliedVersion: nil, roles: [], gateways: []) }
            )
            let running = Task { try await agent.run() }
            defer { running.cancel() }
            // The device applies version 1; its first two acknowledgements fail, the third reaches the console.
            #expect(await eventually { applied.value.withLock { $0.count } == 1 })
            #expect(
                await eventually(timeout: .seconds(20)) {
                    let statuses = (try? await store.deviceStatuses(site: "lab", consoleVersion: "test")) ?? []
                    return statuses.first { $0.device == "lb1" }?.appliedVersion == 1
                }
            )
            // The agent logs the delivery once the console's answer is back, a moment after the console stored it.
            #expect(
                await eventually {
                    logs.entries.contains { $0.message.description == "Acknowledgement delivered to the console" }
                }
            )
            let lines = logs.entries.map(\.message.description)
            #expect(
                lines.filter { $0 == "Cannot acknowledge the configuration to the console; trying again" }.count == 1,
                "\(lines)"
            )
            let delivered = logs.entries.first { $0.message.description == "Acknowledgement delivered to the console" }
            #expect(delivered?.metadata["ack.attempts"] == "3")
            running.cancel()
            _ = try? await running.value
        }
    }
    /// A configuration the device cannot run is refused (NACK) with the reason, which the console shows; the device
    /// keeps what it runs, and takes the next version that it can run (ACK).
    @Test func aRefusedConfigurationIsNackedWithItsReasonAndTheNextOneAcked() async throws {
        struct PortTaken: Error, CustomStringConvertible {
            var description: String { "cannot listen on 192.0.2.100:80: address in use" }
        }
        try await self.withEnrolledDevice { store, agentClient, state in
            let logs = InMemoryLogHandler()
            let applied = Shared<[Int]>([])
            let agent = AgentService(
                client: agentClient,
                state: state,
                logger: Logger(label: "test") { _ in logs },
                initialVersion: 0,
                apply: { site in
                    // Version 1 uses port 80, which this device "cannot" take; version 2 moves to 8080.
                    guard site.virtualServers.first?.payload(.gateway)?.port != 80 else { throw PortTaken() }
                    applied.value.withLock { $0.append(site.virtualServers[0].payload(.gateway)!.port) }
                },
                report: { AgentReport(softwareVersion: "test", appliedVersion: nil, roles: [], gateways: []) }
            )
            let running = Task { try await agent.run() }
            defer { running.cancel() }
            func status() async -> DeviceStatus? {
                let statuses = (try? await store.deviceStatuses(site: "lab", consoleVersion: "test")) ?? []
                return statuses.first { $0.device == "lb1" }
            }
            #expect(await eventually { await status()?.error?.contains("address in use") == true })
            #expect(await status()?.appliedVersion == nil)
            #expect(
                logs.entries.contains {
                    $0.message.description.hasPrefix("Configuration from the console refused")
                        && $0.metadata["site.version"] == "1"
                }
            )
            #expect(applied.value.withLock { $0 }.isEmpty)
            _ = try await store.changeSite("lab", basedOn: 1, actor: "test", change: "port 8080") { _ in
                try ConfigNode.parse(yaml: self.site.replacingOccurrences(of: "port: 80,", with: "port: 8080,"))
            }
            #expect(await eventually { await status()?.appliedVersion == 2 })
            #expect(await status()?.error == nil)
            #expect(applied.value.withLock { $0 } == [8080])
            running.cancel()
            _ = try? await running.value
        }
    }

    /// A VRRP transition reaches the console at once, not with the next heartbeat (here an hour away).
    @Test func aChangeOfTheReportSendsAHeartbeatAtOnce() async throws {
        try await self.withEnrolledDevice { store, agentClient, state in
            let role = Shared(VirtualServerRole.secondary)
            let (changes, changed) = AsyncStream.makeStream(of: Void.self)
            let agent = AgentService(
                client: agentClient,
                state: state,
                logger: Logger(label: "test"),
                initialVersion: 0,
                heartbeatInterval: .seconds(3600),
                apply: { _ in },
                report: {
                    AgentReport(
                        softwareVersion: "test",
                        appliedVersion: nil,
                        roles: [
                            AgentRole(
                                virtualServer: "web",
                                family: "ipv4",
                                role: role.value.withLock { $0 },
                                priority: 100
                            )
                        ],
                        gateways: []
                    )
                },
                reportChanges: changes
            )
            let running = Task { try await agent.run() }
            defer { running.cancel() }
            func reported(_ expected: VirtualServerRole) async -> Bool {
                await eventually {
                    let statuses = (try? await store.deviceStatuses(site: "lab", consoleVersion: "test")) ?? []
                    return statuses.first { $0.device == "lb1" }?.roles.map(\.role) == [expected]
                }
            }
            #expect(await reported(.secondary))
            role.value.withLock { $0 = .primary }
            changed.yield()
            #expect(await reported(.primary))
            running.cancel()
            _ = try? await running.value
        }
    }
}
