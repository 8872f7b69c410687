import Atomics
import HALBCore
import HALBTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import HALBBalancer

/// A UDP gateway for tests: answers every datagram with "<name>:<datagram>".
private final class UDPGateway: Sendable {
    let name: String
    let channel: any Channel
    var port: Int { self.channel.localAddress!.port! }

    private init(name: String, channel: any Channel) {
        self.name = name
        self.channel = channel
    }

    static func start(_ name: String) async throws -> UDPGateway {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NameEcho(name: name))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return UDPGateway(name: name, channel: channel)
    }

    func stop() async { try? await self.channel.close() }

    private final class NameEcho: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let name: String
        init(name: String) { self.name = name }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = self.unwrapInboundIn(data)
            var reply = context.channel.allocator.buffer(string: "\(self.name):")
            reply.writeImmutableBuffer(envelope.data)
            context.writeAndFlush(
                self.wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)),
                promise: nil
            )
        }
    }
}

/// A UDP client socket: sends datagrams to one address and collects the answers.
private final class UDPClient: Sendable {
    let channel: any Channel
    private let box: NIOLockedValueBox<[String]>

    private init(channel: any Channel, box: NIOLockedValueBox<[String]>) {
        self.channel = channel
        self.box = box
    }

    static func open() async throws -> UDPClient {
        let box = NIOLockedValueBox<[String]>([])
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return UDPClient(channel: channel, box: box)
    }

    var received: [String] { self.box.withLockedValue { $0 } }

    /// Sends `text` and waits (at most 2 s) for one more answer; returns the answer's gateway name, or nil.
    func ask(_ text: String, to address: SocketAddress) async throws -> String? {
        let before = self.received.count
        try await self.channel.writeAndFlush(
            AddressedEnvelope(remoteAddress: address, data: self.channel.allocator.buffer(string: text))
        )
        guard await eventually(timeout: .seconds(5), { self.received.count > before }) else { return nil }
        return self.received.last.map { String($0.split(separator: ":").first ?? "") }
    }

    func close() async { try? await self.channel.close() }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let box: NIOLockedValueBox<[String]>
        init(box: NIOLockedValueBox<[String]>) { self.box = box }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: self.unwrapInboundIn(data).data)
            self.box.withLockedValue { $0.append(text) }
        }
    }
}

/// The RDP-UDP payload: flows stick to their gateways, spread over them, expire when idle, move when their gateway
/// goes down, and a full flow table refuses new flows.
@Suite(.timeLimit(.minutes(2))) struct UDPTests {
    @Test func flowsStickSpreadExpireAndMoveWhenTheirGatewayGoesDown() async throws {
        var gateways: [UDPGateway] = []
        var health: [TestServer] = []
        for index in 1...3 {
            gateways.append(try await UDPGateway.start("gw\(index)"))
            health.append(try await TestServer.start(.echo()))
        }
        let started = (gateways, health)
        defer {
            Task {
                for gateway in started.0 { await gateway.stop() }
                for server in started.1 { await server.kill() }
            }
        }
        // The UDP payload's health is each gateway's TCP port (here a TCP test server per gateway).
        // Idle timeouts are long (30 s) except while expiry is tested, so a slow machine does not end flows early.
        func configuration(idle: HALBDuration, version: Int) -> BalancerConfiguration {
            let udp = UDPListenerConfiguration(
                host: "127.0.0.1",
                port: 0,
                virtualServer: "rdp",
                members: gateways.map { MemberConfiguration(name: $0.name, address: "127.0.0.1", port: $0.port) },
                healthPorts: Dictionary(uniqueKeysWithValues: zip(gateways.map(\.name), health.map(\.port))),
                balancing: .roundrobin,
                idleTimeout: idle,
                maxFlows: 10,
                healthCheck: HealthCheck(interval: .milliseconds(100), timeout: .milliseconds(100), rise: 1, fall: 1)
            )
            return BalancerConfiguration(siteName: "test", version: version, listeners: [], udpListeners: [udp])
        }
        let balancer = Balancer(
            group: MultiThreadedEventLoopGroup.singleton,
            logger: BalancerFixture.quietLogger,
            dataPath: BalancerFixture.dataPath
        )
        defer { Task { await balancer.shutdown(drainTimeout: .zero) } }
        try await balancer.apply(configuration(idle: .seconds(30), version: 1))
        let address = try #require(await balancer.boundUDPAddresses()["udp 127.0.0.1:0"])

        // Ten clients (ten source ports), five datagrams each: every client always reaches the same gateway, and the
        // clients spread over all three.
        var clients: [UDPClient] = []
        for _ in 0..<10 { clients.append(try await UDPClient.open()) }
        var placement: [Int: String] = [:]
        for round in 0..<5 {
            for (index, client) in clients.enumerated() {
                let gateway = try #require(try await client.ask("hello \(round)", to: address))
                #expect(placement[index, default: gateway] == gateway, "client \(index) moved in round \(round)")
                placement[index] = gateway
            }
        }
        #expect(Set(placement.values) == ["gw1", "gw2", "gw3"], "\(placement)")
        #expect(await balancer.status().virtualServers.first?.udpFlows == 10)

        // The table is full (maxFlows 10): an eleventh client's datagrams are dropped and counted.
        let extra = try await UDPClient.open()
        #expect(try await extra.ask("anyone?", to: address) == nil)
        #expect(await balancer.status().virtualServers.first?.udpFlowsRejected == 1)

        // Idle flows expire (a reload sets 1 s; the port and its flows stay): the table empties, and the eleventh
        // client gets a flow.
        try await balancer.apply(configuration(idle: .seconds(1), version: 2))
        #expect(await balancer.boundUDPAddresses()["udp 127.0.0.1:0"] == address)
        #expect(await eventually(timeout: .seconds(10)) { await balancer.status().virtualServers.first?.udpFlows == 0 })
        #expect(try await extra.ask("now?", to: address) != nil)
        try await balancer.apply(configuration(idle: .seconds(30), version: 3))

        // A gateway goes down (its TCP health fails): its clients' next datagrams go to another gateway.
        let client0 = clients[0]
        let victimName = try #require(try await client0.ask("before", to: address))
        let victim = try #require(gateways.firstIndex { $0.name == victimName })
        #expect(try await client0.ask("still", to: address) == victimName)
        await health[victim].kill()
        #expect(await eventually { await balancer.status().gateways.first { $0.name == victimName }?.health == "down" })
        let moved = try await client0.ask("after", to: address)
        #expect(moved != nil && moved != victimName, "\(moved ?? "no answer")")
        #expect(try await client0.ask("again", to: address) == moved)

        for client in clients + [extra] { await client.close() }
    }
}

extension UDPTests {
    @Test func aUDPCheckOfItsOwnJudgesEachGatewayByItsUDPAnswer() async throws {
        let alive = try await UDPGateway.start("alive")
        let closed = try await UDPGateway.start("closed")
        let closedPort = closed.port
        await closed.stop()  // nothing listens there now: the kernel answers ICMP port unreachable
        defer { Task { await alive.stop() } }
        func configuration(expect: String, version: Int) -> BalancerConfiguration {
            let udp = UDPListenerConfiguration(
                host: "127.0.0.1",
                port: 0,
                virtualServer: "rdp",
                members: [
                    MemberConfiguration(name: "alive", address: "127.0.0.1", port: alive.port),
                    MemberConfiguration(name: "closed", address: "127.0.0.1", port: closedPort),
                ],
                balancing: .roundrobin,
                healthCheck: HealthCheck(
                    type: .udp,
                    // Long enough that a busy machine (ThreadSanitizer, both cores taken) does not time "alive" out.
                    interval: .milliseconds(500),
                    timeout: .milliseconds(500),
                    rise: 1,
                    fall: 2,
                    send: Array("ping".utf8),
                    expect: Array(expect.utf8)
                )
            )
            return BalancerConfiguration(siteName: "test", version: version, listeners: [], udpListeners: [udp])
        }
        let balancer = Balancer(
            group: MultiThreadedEventLoopGroup.singleton,
            logger: BalancerFixture.quietLogger,
            dataPath: BalancerFixture.dataPath
        )
        defer { Task { await balancer.shutdown(drainTimeout: .zero) } }
        try await balancer.apply(configuration(expect: "alive:ping", version: 1))
        func health(_ name: String) async -> String? {
            await balancer.status().gateways.first { $0.name == name }?.health
        }

        // The gateway that answers with the expected bytes is up; the closed port is down.
        #expect(
            await eventually {
                let alive = await health("alive")
                let closed = await health("closed")
                return alive == "up" && closed == "down"
            }
        )
        // The closed port is told apart from a silent one: the kernel's port unreachable, not the timeout (a check
        // on a busy machine may still time out before the kernel's answer is read, so any check may say it).
        var closedCheck = ""
        #expect(
            await eventually {
                closedCheck = await balancer.status().gateways.first { $0.name == "closed" }?.lastCheck ?? ""
                return closedCheck.lowercased().contains("refused")
            },
            "\(closedCheck)"
        )
        let address = try #require(await balancer.boundUDPAddresses()["udp 127.0.0.1:0"])
        let client = try await UDPClient.open()
        defer { Task { await client.close() } }
        for round in 0..<4 {
            #expect(try await client.ask("hello \(round)", to: address) == "alive")
        }

        // An answer without the expected bytes fails the check.
        try await balancer.apply(configuration(expect: "pong", version: 2))
        #expect(await eventually { await health("alive") == "down" })
    }
}

extension UDPTests {
    @Test func aGatewayGivenByHostNameIsResolvedWhenTheConfigurationIsApplied() async throws {
        let gateway = try await UDPGateway.start("named")
        defer { Task { await gateway.stop() } }
        // "localhost" comes from /etc/hosts: no DNS query leaves the machine.
        let udp = UDPListenerConfiguration(
            host: "127.0.0.1",
            port: 0,
            virtualServer: "rdp",
            members: [MemberConfiguration(name: "named", address: "localhost", port: gateway.port)],
            healthCheck: HealthCheck(
                type: .udp,
                interval: .milliseconds(100),
                timeout: .milliseconds(100),
                rise: 1,
                fall: 1,
                send: Array("ping".utf8)
            )
        )
        let balancer = Balancer(
            group: MultiThreadedEventLoopGroup.singleton,
            logger: BalancerFixture.quietLogger,
            dataPath: BalancerFixture.dataPath
        )
        defer { Task { await balancer.shutdown(drainTimeout: .zero) } }
        try await balancer.apply(
            BalancerConfiguration(siteName: "test", version: 1, listeners: [], udpListeners: [udp])
        )
        #expect(await eventually { await balancer.status().gateways.first?.health == "up" })
        let address = try #require(await balancer.boundUDPAddresses()["udp 127.0.0.1:0"])
        let client = try await UDPClient.open()
        defer { Task { await client.close() } }
        #expect(try await client.ask("hello", to: address) == "named")
    }
}

@Suite struct UDPConfigurationTests {
    @Test func aUDPPayloadListensOnEachPortOfEachVIPAndTakesItsHealthFromTheSSLPort() throws {
        let site = try SiteReader.load(
            yaml: """
                site: lab
                gateways:
                  - { name: gw1, address: 192.0.2.21, ports: { ssl: 8443 } }
                  - { name: gw2, address: 192.0.2.22, ports: { ssl: 8443, udp: 3391 } }
                devices:
                  - { name: lb1, address: 192.0.2.11 }
                virtualServers:
                  - name: rdp
                    vip: { ipv4: 192.0.2.100/24, ipv6: 2001:db8::100/64 }
                    devices: [lb1]
                    payloads:
                      ssl: { port: 443 }
                      udp: { ports: [443, 80], idleTimeout: 30s, maxFlows: 500 }
                """
        )
        let udp = BalancerConfiguration(site: site, device: "lb1").udpListeners
        #expect(
            udp.map(\.key) == [
                "udp 192.0.2.100:443", "udp 192.0.2.100:80", "udp [2001:db8::100]:443", "udp [2001:db8::100]:80",
            ]
        )
        let first = try #require(udp.first)
        // gw1 has no UDP port: datagrams keep the VIP port; gw2's go to 3391. Both are as healthy as their ssl port.
        #expect(first.members.map(\.port) == [443, 3391])
        #expect(udp[1].members.map(\.port) == [80, 3391])
        #expect(first.healthPorts == ["gw1": 8443, "gw2": 8443])
        #expect(first.idleTimeout == .seconds(30) && first.maxFlows == 500)

        // With a check of its own, each gateway is judged at its UDP port by that check.
        var checked = site
        checked.virtualServers[0].udp?.healthCheck = HealthCheck(type: .udp, send: Array("ping".utf8))
        let own = try #require(BalancerConfiguration(site: checked, device: "lb1").udpListeners.first)
        #expect(own.healthPorts.isEmpty && own.healthCheck.type == .udp && own.healthCheck.send == Array("ping".utf8))
    }
}
