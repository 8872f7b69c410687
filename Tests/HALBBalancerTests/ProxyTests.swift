import Atomics
import Foundation
import HALBCore
import HALBTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import HALBBalancer

#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(2))) struct ProxyTests {
    /// A 1 MiB block of pseudo-random bytes; transfers repeat it, so any lost, doubled or reordered chunk shows.
    private static let pattern: [UInt8] = {
        var state: UInt64 = 0x2545_f491_4f6c_dd1d
        return (0..<(1 << 20)).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }()

    /// Sends `size` bytes through the device to an echo gateway while reading the echo, and compares every byte
    /// that comes back with what was sent.
    private func transferIntact(size: Int) async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let pattern = Self.pattern
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)])) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            let received = try await client.run { inbound, outbound in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    group.addTask {
                        var sent = 0
                        while sent < size {
                            let offset = sent % pattern.count
                            let length = min(64 * 1024, size - sent, pattern.count - offset)
                            try await outbound.write(ByteBuffer(bytes: pattern[offset..<(offset + length)]))
                            sent += length
                        }
                        outbound.finish()
                        return -1
                    }
                    group.addTask {
                        var count = 0
                        for try await buffer in inbound {
                            var position = 0
                            while position < buffer.readableBytes {
                                let offset = count % pattern.count
                                let length = min(buffer.readableBytes - position, pattern.count - offset)
                                let same = buffer.withUnsafeReadableBytes { received in
                                    pattern.withUnsafeBytes { sent in
                                        memcmp(received.baseAddress! + position, sent.baseAddress! + offset, length)
                                            == 0
                                    }
                                }
                                guard same else {
                                    Issue.record("bytes \(count)..<\(count + length) differ from what was sent")
                                    return count
                                }
                                position += length
                                count += length
                            }
                        }
                        return count
                    }
                    var received = 0
                    for try await value in group where value >= 0 { received = value }
                    return received
                }
            }
            #expect(received == size)
            let status = await fixture.gateway("gw1")
            #expect(status?.bytesSent == size)
            #expect(status?.bytesReceived == size)
        }
    }

    @Test func oneKibibyteArrivesIntactBothWays() async throws {
        try await self.transferIntact(size: 1024)
    }

    @Test func sixtyFourMebibytesArriveIntactBothWays() async throws {
        try await self.transferIntact(size: 64 * 1024 * 1024)
    }

    @Test func halfCloseLetsTheGatewayAnswerAfterTheClientFinishedSending() async throws {
        let gateway = try await TestServer.start(.echo(replyOnEOF: "|bye"))
        defer { Task { await gateway.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)])) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            let text = try await client.run { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "hello"))
                outbound.finish()  // client → gateway direction ends; the other stays open
                var reader = inbound.makeAsyncIterator()
                var buffer = try await reader.readToEnd()
                return buffer.readString(length: buffer.readableBytes)
            }
            // "|bye" is written by the gateway only after it saw the client's end of input through the device,
            // and the read ends only because the gateway's end of output came through too.
            #expect(text == "hello|bye")
        }
    }

    @Test func aDownloadAfterTheClientsHalfCloseReachesASlowReaderWhole() async throws {
        // The client sends its end of input first; the gateway then streams a response and ends its own output.
        // Both directions are done at the device while bytes still wait for the slow client: they must all arrive.
        let written = ManagedAtomic<Int>(0)
        let total = 8 * 1024 * 1024
        let gateway = try await TestServer.start(.source(total: total, written: written))
        defer { Task { await gateway.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)])) { fixture async throws in
            // A small receive buffer keeps the kernel from absorbing the response: it waits in the device.
            let client = try await TestClient.connect(port: fixture.port, receiveBuffer: 4096)
            let received = try await withTimeout(.seconds(60)) {
                try await client.run { inbound, outbound in
                    outbound.finish()
                    var count = 0
                    for try await buffer in inbound {
                        count += buffer.readableBytes
                        try await Task.sleep(for: .milliseconds(1))
                    }
                    return count
                }
            }
            #expect(received == total)
        }
    }

    @Test func aFileSentWithSendfileArrivesWholeWhileTheClientSendsNothing() async throws {
        // A gateway that sends a small header and then a file with sendfile(2), as a web server does, leaves the
        // socket's bytes in page fragments after an odd-sized one: a splice into a pipe runs out of pipe slots and
        // stops short while bytes are still waiting. Nothing else wakes the relay (the client sends nothing, the
        // gateway waits for the window), so a relay that takes a short splice for a drained socket stalls here.
        let script = """
            import os, socket, tempfile, threading
            f = tempfile.TemporaryFile()
            f.write(os.urandom(1 << 20)); f.flush()
            def serve(c):
                try:
                    for _ in range(16):
                        c.sendall(b"h" * 97)
                        c.sendfile(f, 0, 1 << 20)
                except OSError:
                    pass  # the health check does not read
                c.close()
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
            print(s.getsockname()[1], flush=True)
            while True:
                threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
            """
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        gateway.arguments = ["-c", script]
        let output = Pipe()
        gateway.standardOutput = output
        gateway.standardError = FileHandle.nullDevice
        try gateway.run()
        defer {
            // SIGKILL: the signal mask the test process hands down may block SIGTERM.
            kill(gateway.processIdentifier, SIGKILL)
            gateway.waitUntilExit()
        }
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(Int(line.trimmingCharacters(in: .whitespacesAndNewlines)))
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", port)])) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            let received = try await withTimeout(.seconds(30)) {
                try await client.run { inbound, _ in
                    var count = 0
                    for try await buffer in inbound { count += buffer.readableBytes }
                    return count
                }
            }
            #expect(received == 16 * (97 + (1 << 20)))
        }
    }

    @Test func urgentDataDoesNotStallTheRestOfTheStream() async throws {
        // A bulk upload moves to splice; splice stops at a TCP urgent mark for good, and the bytes after it must
        // still arrive. The urgent byte itself is not part of the stream (no SO_OOBINLINE), on either data path.
        let received = NIOLockedValueBox<[UInt8]>([])
        let gateway = try await TestServer.start(.record(received))
        defer { Task { await gateway.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)])) { fixture async throws in
            let fd = try Self.rawConnect(port: fixture.port)
            defer { close(fd) }
            func sendAll(_ bytes: [UInt8], flags: Int32 = 0) {
                var offset = 0
                while offset < bytes.count {
                    let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, flags) }
                    guard sent > 0 else { return }
                    offset += sent
                }
            }
            let bulk = [UInt8](repeating: 0x61, count: 40_000)
            sendAll(bulk)
            sendAll([0x21], flags: Int32(MSG_OOB))
            sendAll(Array("tail".utf8))
            let expected = bulk + Array("tail".utf8)
            #expect(await eventually(timeout: .seconds(10)) { received.withLockedValue { $0 == expected } })
            #expect(received.withLockedValue { $0.count } == expected.count)
        }
    }

    /// A blocking socket connected to 127.0.0.1:`port`, for what NIO's channels cannot do (urgent data, resets).
    private static func rawConnect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        guard RelayLoop.withSockAddr(address, { connect(fd, $0, $1) }) == 0 else {
            close(fd)
            throw IOError(errnoCode: errno, reason: "connect")
        }
        return fd
    }

    @Test func aClientResetAfterItsHalfCloseEndsThePairAtOnce() async throws {
        // The client ends its output, then resets the connection while the gateway is still silent: nothing is
        // left to move either way, and the gateway's side must not wait for the gateway or its idle timeout.
        let received = NIOLockedValueBox<[UInt8]>([])
        let gateway = try await TestServer.start(.record(received))
        defer { Task { await gateway.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)])) { fixture async throws in
            let fd = try Self.rawConnect(port: fixture.port)
            _ = send(fd, "x", 1, 0)
            #expect(await eventually { received.withLockedValue { $0 == [0x78] } })
            shutdown(fd, Int32(SHUT_WR))
            try await Task.sleep(for: .milliseconds(100))
            var linger = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
            close(fd)  // with a zero linger: a reset
            #expect(await eventually(timeout: .seconds(5)) { await fixture.balancer.activeConnections() == 0 })
            #expect(await eventually(timeout: .seconds(5)) { await fixture.gateway("gw1")?.activeConnections == 0 })
        }
    }

    @Test func aSlowReaderStallsTheGatewayInsteadOfFillingTheDevice() async throws {
        let written = ManagedAtomic<Int>(0)
        let total = 512 * 1024 * 1024
        let gateway = try await TestServer.start(.source(total: total, written: written))
        defer { Task { await gateway.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)])) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            try await client.run { inbound, _ in
                // Do not read. Wait until the gateway's writes stop making progress.
                var last = -1
                let stalled = await eventually(timeout: .seconds(20)) {
                    let now = written.load(ordering: .relaxed)
                    defer { last = now }
                    if now == last && now > 0 { return true }
                    try? await Task.sleep(for: .milliseconds(300))
                    return false
                }
                #expect(stalled)
                let stalledAt = written.load(ordering: .relaxed)
                // Kernel socket buffers on both hops hold some megabytes; without backpressure the device would
                // read the whole 512 MiB into memory.
                #expect(stalledAt > 0)
                #expect(stalledAt < 64 * 1024 * 1024, "gateway wrote \(stalledAt) bytes to a client that reads nothing")
                // Reading resumes the flow.
                var reader = inbound.makeAsyncIterator()
                let more = try await reader.read(upTo: stalledAt + 8 * 1024 * 1024)
                #expect(more.readableBytes >= stalledAt + 8 * 1024 * 1024)
            }
        }
    }

    @Test func refusedConnectTriesTheNextGateway() async throws {
        let dead = try await TestServer.start(.echo())
        let alive = try await TestServer.start(.echo())
        defer { Task { await alive.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("dead", dead.port), ("alive", alive.port)])) {
            fixture async throws in
            // Health checks run once an hour here: once the first has passed, the dead gateway stays "up" and keeps
            // being offered connections.
            #expect(await eventually { await fixture.gateway("dead")?.health == "up" })
            await dead.kill()
            for index in 0..<6 {
                #expect(try await echoRoundTrip(port: fixture.port, text: "ping\(index)") == "ping\(index)")
            }
            // Every connection that was offered the dead gateway was retried on the live one.
            #expect(((await fixture.gateway("dead"))?.connectFailures ?? 0) > 0)
            #expect((await fixture.gateway("alive"))?.totalConnections == 6)
        }
    }

    @Test func connectTimeoutIsHonouredAndTheNextGatewayServes() async throws {
        let blackhole = try BlackholeListener()
        let alive = try await TestServer.start(.echo())
        defer { Task { await alive.kill() } }
        let route = BalancerFixture.route(
            gateways: [("blackhole", blackhole.port), ("alive", alive.port)],
            timeouts: Timeouts(connect: .milliseconds(300))
        )
        try await withBalancer(route) { fixture async throws in
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await echoRoundTrip(port: fixture.port) == "ping")  // round robin starts at "blackhole"
            // No upper bound on the time (a busy machine stretches it): the next test shows that a configured
            // timeout longer than the 5 s default is waited out, so the timeout used is the configured one.
            #expect(clock.now - start >= .milliseconds(300))
            #expect((await fixture.gateway("blackhole"))?.connectFailures == 1)
        }
        withExtendedLifetime(blackhole) {}
    }

    @Test func aConnectTimeoutLongerThanTheDefaultIsWaitedOut() async throws {
        let blackhole = try BlackholeListener()
        let alive = try await TestServer.start(.echo())
        defer { Task { await alive.kill() } }
        let route = BalancerFixture.route(
            gateways: [("blackhole", blackhole.port), ("alive", alive.port)],
            timeouts: Timeouts(connect: .seconds(60))
        )
        try await withBalancer(route) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)  // round robin starts at "blackhole"
            #expect(await eventually { await fixture.gateway("blackhole")?.activeConnections == 1 })
            // Past the 5 s default, the connect still waits (a busy machine only makes it wait longer).
            try await Task.sleep(for: .seconds(6))
            #expect(await fixture.gateway("blackhole")?.activeConnections == 1)
            #expect(await fixture.gateway("blackhole")?.connectFailures == 0)
            #expect(await fixture.gateway("alive")?.totalConnections == 0)
            try await client.channel.channel.close()
        }
        withExtendedLifetime(blackhole) {}
    }

    @Test func aConnectInFlightCountsTowardsTheGatewayLimitAndEndsWhenTheClientLeaves() async throws {
        let blackhole = try BlackholeListener()
        let route = BalancerFixture.route(
            gateways: [("blackhole", blackhole.port)],
            timeouts: Timeouts(connect: .seconds(60)),
            limits: Limits(maxConnectionsPerGateway: 1)
        )
        try await withBalancer(route) { fixture async throws in
            // The first client's connect hangs; it already holds the gateway's only slot.
            let waiting = try await TestClient.connect(port: fixture.port)
            #expect(await eventually { await fixture.gateway("blackhole")?.activeConnections == 1 })
            // So the second client finds no gateway and is closed at once instead of queueing behind it.
            let second = try await TestClient.connect(port: fixture.port)
            let bytes = try await withTimeout {
                try await second.run { inbound, _ in
                    var reader = inbound.makeAsyncIterator()
                    return try await reader.readToEnd().readableBytes
                }
            }
            #expect(bytes == 0)
            #expect(await fixture.balancer.status().virtualServers.first?.failedConnections == 1)
            // The first client gives up (a reset; a half-close would still wait for the answer): the pending
            // connect is dropped long before its 60 s timeout.
            let socket = try #require(waiting.channel.channel as? any SocketOptionProvider)
            try await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            try await waiting.channel.channel.close()
            #expect(await eventually { await fixture.gateway("blackhole")?.activeConnections == 0 })
        }
        withExtendedLifetime(blackhole) {}
    }

    @Test func noHealthyGatewayClosesTheClientAndCountsIt() async throws {
        let dead = try RefusingPort()
        try await withBalancer(BalancerFixture.route(gateways: [("dead", dead.port)])) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            let answer = try await client.run { inbound, outbound in
                var reader = inbound.makeAsyncIterator()
                return try await reader.readToEnd().readableBytes
            }
            #expect(answer == 0)
            let vs = await fixture.balancer.status().virtualServers.first
            #expect(vs?.failedConnections == 1)
        }
        withExtendedLifetime(dead) {}
    }

    @Test func proxyProtocolV1HeaderReachesTheGatewayFirst() async throws {
        let received = NIOLockedValueBox<[UInt8]>([])
        let gateway = try await TestServer.start(.record(received))
        defer { Task { await gateway.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)], proxyProtocol: .v1)) {
            fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            let clientPort = client.channel.channel.localAddress!.port!
            try await client.run { _, outbound in
                try await outbound.write(ByteBuffer(string: "DATA"))
                #expect(await eventually { received.withLockedValue { $0.suffix(4) == Array("DATA".utf8) } })
            }
            let text = String(decoding: received.withLockedValue { $0 }, as: UTF8.self)
            #expect(text == "PROXY TCP4 127.0.0.1 127.0.0.1 \(clientPort) \(fixture.port)\r\nDATA")
        }
    }

    @Test func anIPv6ListenerTellsTheGatewayTheClientsIPv6Address() async throws {
        let received = NIOLockedValueBox<[UInt8]>([])
        let gateway = try await TestServer.start(.record(received))
        defer { Task { await gateway.kill() } }
        let balancer = Balancer(
            group: MultiThreadedEventLoopGroup.singleton,
            logger: BalancerFixture.quietLogger,
            dataPath: BalancerFixture.dataPath
        )
        let route = BalancerFixture.route(gateways: [("gw1", gateway.port)], proxyProtocol: .v1)
        let listener = ListenerConfiguration(host: "::1", port: 0, route: route)
        try await balancer.apply(BalancerConfiguration(siteName: "test", version: 1, listeners: [listener]))
        do {
            let port = try #require(await balancer.boundAddresses()["[::1]:0"]?.port)
            let client = try await TestClient.connect(host: "::1", port: port)
            let clientPort = client.channel.channel.localAddress!.port!
            try await client.run { _, outbound in
                try await outbound.write(ByteBuffer(string: "DATA"))
                #expect(await eventually { received.withLockedValue { $0.suffix(4) == Array("DATA".utf8) } })
            }
            let text = String(decoding: received.withLockedValue { $0 }, as: UTF8.self)
            #expect(text == "PROXY TCP6 ::1 ::1 \(clientPort) \(port)\r\nDATA")
        } catch {
            await balancer.shutdown(drainTimeout: .zero)
            throw error
        }
        await balancer.shutdown(drainTimeout: .zero)
    }

    @Test func proxyProtocolV2HeaderIsSentBeforeTheClientSpeaks() async throws {
        // Server-first protocols (a banner before any client byte) need the header on the wire at connect.
        let received = NIOLockedValueBox<[UInt8]>([])
        let gateway = try await TestServer.start(.record(received))
        defer { Task { await gateway.kill() } }
        try await withBalancer(BalancerFixture.route(gateways: [("gw1", gateway.port)], proxyProtocol: .v2)) {
            fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            let clientPort = client.channel.channel.localAddress!.port!
            try await client.run { _, _ in
                #expect(await eventually { received.withLockedValue { $0.count } >= 28 })
            }
            // The gateway records every connection's bytes in turn: the client's, and health checks' (which send
            // the header too) when a slow machine lets some run meanwhile. Each is a header and nothing else.
            let bytes = received.withLockedValue { $0 }
            let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
            #expect(bytes.count % 28 == 0, "\(bytes.count) bytes")  // 16-byte header + IPv4 addresses and ports
            let headers = stride(from: 0, to: bytes.count - bytes.count % 28, by: 28).map { Array(bytes[$0..<$0 + 28]) }
            for header in headers {
                #expect(Array(header.prefix(12)) == signature)
                #expect(Array(header[12..<16]) == [0x21, 0x11, 0x00, 0x0C])  // v2 PROXY, TCP over IPv4, 12 bytes
            }
            let clients = headers.filter {
                Int($0[24]) << 8 | Int($0[25]) == clientPort && Int($0[26]) << 8 | Int($0[27]) == fixture.port
            }
            #expect(clients.count == 1, "no header names the client \(clientPort) → \(fixture.port)")
        }
    }

    @Test func connectionsBeyondTheLimitAreRefused() async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let route = BalancerFixture.route(gateways: [("gw1", gateway.port)], limits: Limits(maxConnections: 2))
        try await withBalancer(route) { fixture async throws in
            let first = try await TestClient.connect(port: fixture.port)
            let second = try await TestClient.connect(port: fixture.port)
            #expect(await eventually { gateway.stats.open == 2 })
            let third = try await TestClient.connect(port: fixture.port)
            let thirdBytes = try await third.run { inbound, outbound in
                try? await outbound.write(ByteBuffer(string: "x"))
                var reader = inbound.makeAsyncIterator()
                return (try? await reader.readToEnd().readableBytes) ?? 0
            }
            #expect(thirdBytes == 0)
            #expect((await fixture.balancer.status().virtualServers.first)?.rejectedConnections == 1)
            try await first.run { _, _ in }
            try await second.run { _, _ in }
            #expect(await eventually { await fixture.balancer.status().virtualServers.first?.activeConnections == 0 })
            #expect(try await echoRoundTrip(port: fixture.port) == "ping")
        }
    }

    @Test func idleConnectionsAreClosedAfterTheClientIdleTimeout() async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let route = BalancerFixture.route(
            gateways: [("gw1", gateway.port)],
            // Long enough for the echo to come back on a machine busy with the other tests: CI saw over 1 s, and over
            // 3 s under ThreadSanitizer with both cores taken.
            timeouts: Timeouts(clientIdle: .seconds(10), gatewayIdle: .hours(1))
        )
        try await withBalancer(route) { fixture async throws in
            let client = try await TestClient.connect(port: fixture.port)
            let echoed = try await client.run { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "a"))
                var reader = inbound.makeAsyncIterator()
                // The echo comes back, then nothing: the device closes the idle connection and the read ends.
                return try await reader.readToEnd().readableBytes
            }
            #expect(echoed == 1)
            #expect(await eventually { gateway.stats.open == 0 })
        }
    }
}
