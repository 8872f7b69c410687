import Atomics
import HALBCore
import HALBTestSupport
import NIOCore
import NIOPosix
import Testing

@testable import HALBBalancer

/// `persistence: sourceIP`: the table with a fake clock, the pool's placement, and clients sticking through the proxy.
@Suite struct PersistenceTableTests {
    private let alice: [UInt8] = [198, 51, 100, 7]
    private let bob: [UInt8] = [198, 51, 100, 8]

    @Test func aClientKeepsItsGatewayUntilTheTimeoutAfterItsLastConnection() {
        var table = PersistenceTable()
        #expect(table.gateway(of: self.alice, now: 0, timeout: 1000) == nil)
        table.record(self.alice, gateway: "gw2", now: 0, timeout: 1000)
        #expect(table.gateway(of: self.alice, now: 999, timeout: 1000) == "gw2")
        // That lookup refreshed the entry: it now lasts until 1999.
        #expect(table.gateway(of: self.alice, now: 1998, timeout: 1000) == "gw2")
        #expect(table.gateway(of: self.bob, now: 1998, timeout: 1000) == nil)
        #expect(table.gateway(of: self.alice, now: 2998, timeout: 1000) == nil)
        #expect(table.count == 0)
    }

    @Test func aFullTableDropsExpiredEntriesFirstThenTheOldest() {
        var table = PersistenceTable(capacity: 10)
        for index in 0..<10 {
            table.record([10, 0, 0, UInt8(index)], gateway: "gw\(index)", now: Int64(index) * 100, timeout: 550)
        }
        #expect(table.count == 10)
        // At 1000, the entries recorded at 0-400 have expired: they go, the others stay.
        table.record(self.alice, gateway: "gw1", now: 1000, timeout: 550)
        #expect(table.count == 6)
        #expect(table.gateway(of: [10, 0, 0, 5], now: 1000, timeout: 550) == "gw5")
        // Nothing expired and full: the oldest tenth (one entry) makes room.
        for index in 0..<4 { table.record([10, 0, 1, UInt8(index)], gateway: "gw1", now: 1001, timeout: 550) }
        #expect(table.count == 10)
        table.record(self.bob, gateway: "gw3", now: 1002, timeout: 550)
        #expect(table.count == 10)
        #expect(table.gateway(of: [10, 0, 0, 6], now: 1002, timeout: 550) == nil)  // the oldest one, recorded at 600
        #expect(table.gateway(of: self.bob, now: 1002, timeout: 550) == "gw3")
    }

    @Test func aPersistentPoolPlacesNewClientsByTheSourceHashWhateverItsAlgorithm() throws {
        func pool(_ algorithm: BalancingAlgorithm, persistent: Bool) -> GatewayPool {
            let members = (1...4).map { index in
                GatewayPool.Member(
                    configuration: MemberConfiguration(name: "gw\(index)", address: "192.0.2.\(index)", port: 80),
                    target: GatewayTarget(
                        key: .init(
                            name: "gw\(index)",
                            address: "192.0.2.\(index)",
                            port: 80,
                            healthCheck: HealthCheck()
                        )
                    ),
                    active: .init(0)
                )
            }
            return GatewayPool(members: members, algorithm: algorithm, perGatewayLimit: 0, persistent: persistent)
        }
        let hashed = pool(.sourcehash, persistent: false)
        for algorithm in BalancingAlgorithm.allCases {
            let persistent = pool(algorithm, persistent: true)
            for index in 0..<300 {
                let client = try SocketAddress(ipAddress: "203.0.\(index / 256).\(index % 256)", port: 50000)
                #expect(persistent.pick(client: client) == hashed.pick(client: client), "\(algorithm)")
            }
        }
        // Without persistence, round robin does not follow the hash.
        let roundRobin = pool(.roundrobin, persistent: false)
        let client = try SocketAddress(ipAddress: "203.0.113.9", port: 50000)
        #expect(Set((0..<4).compactMap { _ in roundRobin.pick(client: client) }).count == 4)
    }
}

@Suite(.timeLimit(.minutes(2))) struct PersistenceProxyTests {
    /// Which of `gateways` served each of `count` connections to `port`, by index.
    private func servers(
        of count: Int,
        host: String = "127.0.0.1",
        port: Int,
        gateways: [TestServer]
    ) async throws -> [Int] {
        var result: [Int] = []
        for _ in 0..<count {
            let before = gateways.map { $0.stats.served.load(ordering: .relaxed) }
            #expect(try await withTimeout { try await echoRoundTrip(host: host, port: port) } == "ping")
            let after = gateways.map { $0.stats.served.load(ordering: .relaxed) }
            result.append(contentsOf: gateways.indices.filter { after[$0] > before[$0] })
        }
        return result
    }

    @Test func aClientSticksToItsGatewayAcrossConnectionsPayloadsReloadsAndAGatewaysReturn() async throws {
        var gateways: [TestServer] = []
        for _ in 0..<4 { gateways.append(try await TestServer.start(.echo())) }
        let started = gateways
        defer { Task { for gateway in started { await gateway.kill() } } }
        let check = HealthCheck(interval: .milliseconds(100), timeout: .milliseconds(100), rise: 1, fall: 1)
        func route(_ payload: PayloadKind, gateways count: Int, persistent: Bool) -> RouteConfiguration {
            RouteConfiguration(
                virtualServer: "web",
                payload: payload,
                members: (0..<count).map {
                    MemberConfiguration(name: "gw\($0)", address: "127.0.0.1", port: gateways[$0].port)
                },
                balancing: .roundrobin,
                healthCheck: check,
                persistence: Persistence(type: persistent ? .sourceIP : .none, timeout: .minutes(5))
            )
        }
        func configuration(gateways count: Int, persistent: Bool, version: Int) -> BalancerConfiguration {
            BalancerConfiguration(
                siteName: "test",
                version: version,
                listeners: [
                    ListenerConfiguration(
                        host: "127.0.0.1",
                        port: 0,
                        route: route(.gateway, gateways: count, persistent: persistent)
                    ),
                    ListenerConfiguration(
                        host: "127.0.0.2",
                        port: 0,
                        route: route(.clientManagement, gateways: count, persistent: persistent)
                    ),
                ]
            )
        }
        let balancer = Balancer(
            group: MultiThreadedEventLoopGroup.singleton,
            logger: BalancerFixture.quietLogger,
            dataPath: BalancerFixture.dataPath
        )
        defer { Task { await balancer.shutdown(drainTimeout: .zero) } }

        // Without persistence, round robin spreads this client's connections.
        try await balancer.apply(configuration(gateways: 3, persistent: false, version: 1))
        var ports = await balancer.boundAddresses()
        let spread = try await self.servers(of: 6, port: ports["127.0.0.1:0"]!.port!, gateways: gateways)
        #expect(Set(spread).count == 3, "\(spread)")

        // With it, every connection of the client (all tests connect from 127.0.0.1) reaches one gateway, on both
        // payloads.
        try await balancer.apply(configuration(gateways: 3, persistent: true, version: 2))
        ports = await balancer.boundAddresses()
        let first = try await self.servers(of: 6, port: ports["127.0.0.1:0"]!.port!, gateways: gateways)
        #expect(first.count == 6 && Set(first).count == 1, "\(first)")
        let home = try #require(first.first)
        let other = try await self.servers(
            of: 3,
            host: "127.0.0.2",
            port: ports["127.0.0.2:0"]!.port!,
            gateways: gateways
        )
        #expect(other == [home, home, home])

        // A fourth gateway joins (the hash table changes): the client stays where it is.
        try await balancer.apply(configuration(gateways: 4, persistent: true, version: 3))
        ports = await balancer.boundAddresses()
        #expect(
            try await self.servers(of: 3, port: ports["127.0.0.1:0"]!.port!, gateways: gateways) == [home, home, home]
        )

        // Its gateway goes down: the client moves, and stays on its new gateway when the old one returns.
        let port = gateways[home].port
        await gateways[home].kill()
        #expect(
            await eventually { await balancer.status().gateways.first { $0.name == "gw\(home)" }?.health == "down" }
        )
        let moved = try await self.servers(of: 3, port: ports["127.0.0.1:0"]!.port!, gateways: gateways)
        #expect(moved.count == 3 && Set(moved).count == 1 && moved[0] != home, "\(moved)")
        gateways[home] = try await TestServer.start(.echo(), port: port)
        #expect(await eventually { await balancer.status().gateways.first { $0.name == "gw\(home)" }?.health == "up" })
        #expect(
            try await self.servers(of: 3, port: ports["127.0.0.1:0"]!.port!, gateways: gateways) == [
                moved[0], moved[0], moved[0],
            ]
        )
        await gateways[home].kill()
    }
}
