import Atomics
import HALBCore
import HALBTestSupport
import InMemoryLogging
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import HALBBalancer

@Suite(.timeLimit(.minutes(2))) struct HealthCheckTests {
    @Test func killedGatewayIsMarkedDownAfterFallChecksAndUpAfterRise() async throws {
        let healthy = try await TestServer.start(.echo())
        var flaky = try await TestServer.start(.echo())
        let flakyPort = flaky.port
        defer { Task { await healthy.kill() } }
        let logs = InMemoryLogHandler()
        let logger = Logger(label: "test", factory: { _ in logs })
        let route = BalancerFixture.route(
            gateways: [("healthy", healthy.port), ("flaky", flakyPort)],
            balancing: .roundrobin,
            healthCheck: HealthCheck(
                type: .tcp,
                interval: .milliseconds(300),
                timeout: .milliseconds(300),
                rise: 2,
                fall: 3
            )
        )
        try await withBalancer(route, logger: logger) { fixture async throws in
            #expect(await eventually { await fixture.gateway("flaky")?.health == "up" })

            await flaky.kill()
            #expect(await eventually { await fixture.gateway("flaky")?.health == "down" })
            #expect(await fixture.gateway("flaky")?.reason.hasPrefix("3 consecutive checks failed") == true)
            let downLog = logs.entries.first {
                $0.message.description == "Gateway is down" && $0.metadata["gateway.name"] == "flaky"
            }
            #expect(downLog?.metadata["gateway.name"] == "flaky")
            #expect(downLog?.metadata["reason"]?.description.contains("Connection refused") == true)

            // While it is down, every new connection goes to the healthy gateway.
            let before = healthy.stats.served.load(ordering: .relaxed)
            for _ in 0..<10 { #expect(try await echoRoundTrip(port: fixture.port) == "ping") }
            #expect(healthy.stats.served.load(ordering: .relaxed) - before == 10)
            #expect(await fixture.gateway("flaky")?.connectFailures == 0)

            flaky = try await TestServer.start(.echo(), port: flakyPort)
            #expect(await eventually { await fixture.gateway("flaky")?.health == "up" })
            #expect(await fixture.gateway("flaky")?.reason.hasPrefix("2 consecutive checks passed") == true)
            for _ in 0..<4 { _ = try await echoRoundTrip(port: fixture.port) }
            #expect(flaky.stats.served.load(ordering: .relaxed) >= 2)
        }
        await flaky.kill()
    }

    @Test func httpCheckRequiresTheExpectedStatus() async throws {
        let received = NIOLockedValueBox<[UInt8]>([])
        let silent = try await TestServer.start(.record(received))  // accepts, never answers
        let echo = try await TestServer.start(.echo())  // echoes the request: not an HTTP response
        defer {
            Task {
                await silent.kill()
                await echo.kill()
            }
        }
        let route = BalancerFixture.route(
            gateways: [("silent", silent.port), ("echo", echo.port)],
            healthCheck: HealthCheck(
                type: .http,
                interval: .milliseconds(300),
                timeout: .milliseconds(300),
                rise: 1,
                fall: 1,
                path: "/health"
            )
        )
        try await withBalancer(route) { fixture async throws in
            #expect(await eventually { await fixture.gateway("silent")?.health == "down" })
            #expect(await eventually { await fixture.gateway("echo")?.health == "down" })
            // The latest check's outcome (on a busy machine an earlier check may have timed out while connecting).
            #expect(
                await eventually {
                    await fixture.gateway("silent")?.lastCheck.contains("no answer within 300ms") == true
                }
            )
            #expect(
                await eventually { await fixture.gateway("echo")?.lastCheck.contains("not an HTTP response") == true }
            )
            #expect(await eventually { !received.withLockedValue { $0 }.isEmpty })
            let request = String(decoding: received.withLockedValue { $0 }, as: UTF8.self)
            #expect(request.hasPrefix("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct ReloadTests {
    @Test func reloadThatSwapsGatewaysLosesNoEstablishedConnection() async throws {
        let gw1 = try await TestServer.start(.echo())
        let gw2 = try await TestServer.start(.echo())
        let gw3 = try await TestServer.start(.echo())
        defer {
            Task {
                await gw1.kill()
                await gw2.kill()
                await gw3.kill()
            }
        }
        let before = BalancerFixture.route(gateways: [("gw1", gw1.port), ("gw2", gw2.port)])
        try await withBalancer(before) { fixture async throws in
            // 50 long-lived connections, each proven to work.
            var clients: [TestClient] = []
            for _ in 0..<50 { clients.append(try await TestClient.connect(port: fixture.port)) }
            #expect(await eventually { gw1.stats.open + gw2.stats.open == 50 })
            #expect(gw1.stats.open > 0)

            // Remove gw1, add gw3.
            let after = BalancerFixture.route(gateways: [("gw2", gw2.port), ("gw3", gw3.port)])
            try await fixture.balancer.apply(BalancerFixture.configuration(after, version: 2))
            #expect(await fixture.balancer.status().configuration.version == 2)
            #expect(await fixture.balancer.boundAddresses()["127.0.0.1:0"]?.port == fixture.port)

            // Every old connection still works, including those on the removed gateway (it drains).
            var survived = 0
            for (index, client) in clients.enumerated() {
                let text = "conn\(index)"
                let answer = try await client.run { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: text))
                    var reader = inbound.makeAsyncIterator()
                    var buffer = try await reader.read(upTo: text.utf8.count)
                    return buffer.readString(length: buffer.readableBytes)
                }
                if answer == text { survived += 1 }
            }
            #expect(survived == 50)

            // New connections go only to gw2 and gw3.
            let gw1Before = gw1.stats.served.load(ordering: .relaxed)
            for _ in 0..<6 { #expect(try await echoRoundTrip(port: fixture.port) == "ping") }
            #expect(gw1.stats.served.load(ordering: .relaxed) == gw1Before)
            #expect(gw3.stats.served.load(ordering: .relaxed) > 0)
        }
    }

    @Test func overlappingReloadsRunOneAfterTheOtherAndEveryGatewayIsChecked() async throws {
        let gw1 = try await TestServer.start(.echo())
        let gw2 = try await TestServer.start(.echo())
        defer {
            Task {
                await gw1.kill()
                await gw2.kill()
            }
        }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gw1.port)])) { fixture async throws in
            // Each new configuration adds a listener (the apply suspends while binding it) and a checked gateway.
            func configuration(version: Int) -> BalancerConfiguration {
                var configuration = BalancerFixture.configuration(
                    BalancerFixture.route(gateways: [("gw1", gw1.port)]),
                    version: version
                )
                var second = BalancerFixture.route(
                    gateways: [("gw2", gw2.port)],
                    healthCheck: HealthCheck(interval: .milliseconds(100), timeout: .milliseconds(500))
                )
                second.virtualServer = "second"
                configuration.listeners.append(ListenerConfiguration(host: "127.0.0.2", port: 0, route: second))
                return configuration
            }
            async let first: Void = fixture.balancer.apply(configuration(version: 2))
            async let other: Void = fixture.balancer.apply(configuration(version: 3))
            _ = try await (first, other)
            let status = await fixture.balancer.status()
            #expect([2, 3].contains(status.configuration.version))
            #expect(status.configuration.generation == 3)
            #expect(status.listeners.count == 2)
            #expect(await eventually { await fixture.gateway("gw2")?.health == "up" })
        }
    }

    @Test func aClosedVirtualServerKeepsItsRouteAndHealthButDoesNotListen() async throws {
        let gw1 = try await TestServer.start(.echo())
        defer { Task { await gw1.kill() } }
        let port = try freePort()
        let balancer = Balancer(
            group: MultiThreadedEventLoopGroup.singleton,
            logger: BalancerFixture.quietLogger,
            dataPath: BalancerFixture.dataPath
        )
        var configuration = BalancerConfiguration(
            siteName: "test",
            version: 1,
            listeners: [
                ListenerConfiguration(
                    host: "127.0.0.1",
                    port: port,
                    route: BalancerFixture.route(gateways: [("gw1", gw1.port)])
                )
            ]
        )
        configuration.closedVirtualServers = ["web"]
        try await balancer.apply(configuration)
        #expect(await balancer.boundAddresses().isEmpty)
        await #expect(throws: (any Error).self) { _ = try await TestClient.connect(port: port) }
        // Its gateways are checked all the same: failover asks whether it could serve.
        #expect(await eventually { await balancer.servableVirtualServers()["web"] == true })

        let closed = configuration
        var open = configuration
        open.closedVirtualServers = []
        try await balancer.apply(open)
        #expect(try await echoRoundTrip(port: port) == "ping")
        // An established connection outlives the listener.
        let client = try await TestClient.connect(port: port)
        let answer = try await withTimeout {
            try await client.run { inbound, outbound in
                var reader = inbound.makeAsyncIterator()
                try await outbound.write(ByteBuffer(string: "first"))
                _ = try await reader.read(upTo: 5)
                try await balancer.apply(closed)
                await #expect(throws: (any Error).self) { _ = try await TestClient.connect(port: port) }
                try await outbound.write(ByteBuffer(string: "still"))
                var buffer = try await reader.read(upTo: 5)
                return buffer.readString(length: buffer.readableBytes)
            }
        }
        #expect(answer == "still")
        #expect(await balancer.boundAddresses().isEmpty)
        await balancer.shutdown(drainTimeout: .zero)
    }

    @Test func aConfigurationThatCannotBindChangesNothing() async throws {
        let gw1 = try await TestServer.start(.echo())
        let taken = try await TestServer.start(.echo())  // holds a port the new configuration wants
        defer {
            Task {
                await gw1.kill()
                await taken.kill()
            }
        }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gw1.port)])) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            var bad = BalancerFixture.configuration(BalancerFixture.route(gateways: [("gw1", gw1.port)]), version: 2)
            bad.listeners.append(
                ListenerConfiguration(host: "127.0.0.1", port: taken.port, route: BalancerFixture.route(gateways: []))
            )
            await #expect(throws: BalancerError.self) { try await fixture.balancer.apply(bad) }
            do {
                try await fixture.balancer.apply(bad)
            } catch {
                #expect("\(error)" == "cannot listen on 127.0.0.1:\(taken.port): Address already in use")
            }
            #expect(await fixture.balancer.status().configuration.version == 1)
            #expect(await fixture.balancer.status().listeners.count == 1)
            #expect(try await echoRoundTrip(port: fixture.port) == "ping")
            let answer = try await client.run { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "still"))
                var reader = inbound.makeAsyncIterator()
                var buffer = try await reader.read(upTo: 5)
                return buffer.readString(length: buffer.readableBytes)
            }
            #expect(answer == "still")
        }
    }

    @Test func shutdownWaitsForConnectionsThenClosesStragglers() async throws {
        let gw1 = try await TestServer.start(.echo())
        defer { Task { await gw1.kill() } }
        let fixture = try await BalancerFixture.start(BalancerFixture.route(gateways: [("gw1", gw1.port)]))
        let client = try await TestClient.connect(port: fixture.port)
        let bytes = try await withTimeout {
            try await client.run { inbound, outbound in
                // One round trip proves the connection is established through the device.
                try await outbound.write(ByteBuffer(string: "x"))
                var reader = inbound.makeAsyncIterator()
                #expect(try await reader.read(upTo: 1).readableBytes == 1)

                // It stays open past the drain timeout, so shutdown closes it.
                let closedAtDeadline = await fixture.balancer.shutdown(drainTimeout: .milliseconds(200))
                #expect(closedAtDeadline == 1)
                await #expect(throws: (any Error).self) { _ = try await TestClient.connect(port: fixture.port) }
                return try await reader.readToEnd().readableBytes
            }
        }
        #expect(bytes == 0)
    }
}
