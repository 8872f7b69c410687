import Atomics
import Foundation
import HALBTestSupport
import NIOCore
import Testing

/// A VIP on loopback, different per test so parallel tests do not collide.
private func loopbackVIP() -> String {
    "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
}

private func site(
    vip: String,
    port: Int,
    gateways: [Int],
    healthInterval: String = "200ms",
    healthTimeout: String = "100ms",
    fall: Int = 1
) -> String {
    """
    site: test
    gateways:
    \(gateways.enumerated().map { "  - { name: gw\($0 + 1), address: 127.0.0.1, ports: { gateway: \($1) } }" }.joined(separator: "\n"))
    devices:
      - { name: lb1, address: 127.0.0.1, interface: lo }
      - { name: lb2, address: 127.0.0.1, interface: lo }
    virtualServers:
      - name: web
        vip: { ipv4: \(vip)/8 }
        devices: [lb1]
        payloads:
          gateway: { port: \(port), balancing: roundrobin }
        healthCheck: { type: tcp, interval: \(healthInterval), timeout: \(healthTimeout), rise: 1, fall: \(fall) }

    """
}

/// A "billion laughs" site file: nine levels of nine aliases, 387 million values once expanded, in 478 bytes.
private let aliasBomb: String = {
    var yaml = "site: &a0 [lol]\n"
    for level in 1...9 {
        yaml += "x\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ",") + "]\n"
    }
    return yaml
}()

@Suite struct ValidateCommandTests {
    @Test func aGoodFileExitsZero() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", site(vip: "127.0.0.10", port: 8080, gateways: [18081, 18082]))
        let result = try await runHALB(["validate", file])
        #expect(result.status == 0)
        #expect(result.output.contains("valid (site test"))
        // Counted in words: singular for one.
        #expect(result.output.contains(": 2 gateways, 2 devices, 1 virtual server, 1 payload)"), "\(result.output)")
        // Through a symbolic link, as /etc/halb/site.yaml often is.
        let link = directory.url.appendingPathComponent("link.yaml").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        #expect(try await runHALB(["validate", link]).status == 0)
    }

    @Test func aBadFileExitsOneWithEveryErrorAndItsPath() async throws {
        let directory = try TemporaryDirectory()
        let text = site(vip: "127.0.0.10", port: 70000, gateways: [18081])
            .replacingOccurrences(of: "devices: [lb1]", with: "devices: [lb9]")
        let file = try directory.write("site.yaml", text)
        let result = try await runHALB(["validate", file])
        #expect(result.status == 1)
        #expect(result.output.contains("virtualServers[0].payloads.gateway.port: 70000 is not a port (1-65535)"))
        #expect(result.output.contains("virtualServers[0].devices[0]: \"lb9\" is not a device of this site"))
        #expect(!result.output.contains("Program crashed"))
    }

    @Test func aSyntaxErrorNamesTheLine() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", "site: x\ngateways:\n  - name: a\n   address: b\n")
        let result = try await runHALB(["validate", file])
        #expect(result.status == 1)
        #expect(result.output.contains("YAML syntax error at line 4"))
    }

    @Test func anAliasBombIsRefusedAtOnce() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", aliasBomb)
        let result = try await runHALB(["validate", file])
        #expect(result.status == 1)
        #expect(result.output.contains("the document holds more than 250000 values"), "\(result.output)")
    }

    @Test func aDeviceOrAnOversizedFileIsRefusedUnread() async throws {
        let zero = try await runHALB(["validate", "/dev/zero"])
        #expect(zero.status == 1)
        #expect(zero.output.contains("cannot read /dev/zero: it is not a regular file"), "\(zero.output)")
        let directory = try TemporaryDirectory()
        let file = try directory.write("big.yaml", "# " + String(repeating: "x", count: 4 << 20) + "\n")
        let big = try await runHALB(["validate", file])
        #expect(big.status == 1)
        #expect(big.output.contains("it is larger than 4 MiB, the limit for a site file"), "\(big.output)")
    }

    @Test func mergeKeysShareSettings() async throws {
        let directory = try TemporaryDirectory()
        let text = site(vip: "127.0.0.10", port: 8080, gateways: [18081, 18082])
            .replacingOccurrences(
                of: "  - { name: gw1,",
                with: "  - { <<: &common { weight: 3, drain: false }, name: gw1,"
            )
            .replacingOccurrences(of: "  - { name: gw2,", with: "  - { <<: *common, name: gw2,")
        let file = try directory.write("site.yaml", text)
        let result = try await runHALB(["validate", file])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func aMissingFileIsAClearError() async throws {
        let result = try await runHALB(["validate", "/nonexistent/site.yaml"])
        #expect(result.status == 1)
        #expect(result.output.contains("cannot read /nonexistent/site.yaml: no such file"))
    }
}

@Suite(.timeLimit(.minutes(2))) struct DeviceCommandTests {
    @Test func exitsWithAClearMessageWhenThePortIsTaken() async throws {
        let taken = try await TestServer.start(.echo())
        defer { Task { await taken.kill() } }
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", site(vip: "127.0.0.1", port: taken.port, gateways: [18081]))
        let result = try await runHALB(["device", "--config", file, "--name", "lb1", "--admin", "127.0.0.1:0"])
        #expect(result.status == 1)
        #expect(result.output.contains("halb: cannot listen on 127.0.0.1:\(taken.port): Address already in use"))
    }

    @Test func exitsWithAClearMessageWhenTheAdminPortIsTaken() async throws {
        let taken = try await TestServer.start(.echo())
        defer { Task { await taken.kill() } }
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", site(vip: loopbackVIP(), port: try freePort(), gateways: [18081]))
        let result = try await runHALB([
            "device", "--config", file, "--name", "lb1", "--admin", "127.0.0.1:\(taken.port)",
        ])
        #expect(result.status == 1)
        #expect(
            result.output.contains(
                "halb: cannot listen on 127.0.0.1:\(taken.port): Address already in use (admin endpoint)"
            )
        )
    }

    @Test func exitsWithAClearMessageWhenTheDeviceServesNothing() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", site(vip: "127.0.0.10", port: 8080, gateways: [18081]))
        let result = try await runHALB(["device", "--config", file, "--name", "lb2", "--admin", "127.0.0.1:0"])
        #expect(result.status == 1)
        #expect(result.output.contains("device lb2 serves no enabled virtual server"))
        let unknown = try await runHALB(["device", "--config", file, "--name", "lb7", "--admin", "127.0.0.1:0"])
        #expect(unknown.status == 1)
        #expect(unknown.output.contains("no device named \"lb7\" in site test (devices: lb1, lb2)"))
    }

    @Test func runningOutOfDescriptorsIsTheDevicesProblemNotTheGateways() async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let vip = loopbackVIP()
        let port = try freePort()
        let directory = try TemporaryDirectory()
        // A generous timeout and fall 3, so that only the shortage (which lasts seconds, several checks) could mark
        // the gateway down, not a slow machine.
        let file = try directory.write(
            "site.yaml",
            site(
                vip: vip,
                port: port,
                gateways: [gateway.port],
                healthInterval: "500ms",
                healthTimeout: "500ms",
                fall: 3
            )
        )
        // A device with few descriptors: idle connections held to its admin endpoint use them all up (and free none,
        // unlike relayed connections, which give a descriptor back whenever their gateway connect fails), so its
        // health checks cannot open a socket.
        let device = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/prlimit"),
            arguments: [
                "--nofile=96:96", try halbExecutable().path, "device", "--config", file, "--name", "lb1", "--admin",
                "127.0.0.1:0", "--threads", "1",
            ]
        )
        defer { device.signal(SIGKILL) }
        // Either may be logged first.
        #expect(
            await eventually {
                device.text.contains("Gateway is up") && device.text.contains("Admin endpoint listening")
            },
            "\(device.text)"
        )
        let admin = try #require(device.text.firstMatch(of: /admin\.address=127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) })
        var held: [TestClient] = []
        for _ in 0..<150 {
            guard let client = try? await TestClient.connect(port: admin) else { break }
            held.append(client)
        }
        #expect(
            await eventually(timeout: .seconds(30)) {
                device.text.contains("Health check not run: this device is short of resources")
            },
            "\(device.text)"
        )
        for client in held { try? await client.channel.channel.close() }
        #expect(
            await eventually(timeout: .seconds(10)) {
                (try? await withTimeout { try await echoRoundTrip(host: vip, port: port) }) == "ping"
            }
        )
        #expect(!device.text.contains("Gateway is down"), "\(device.text)")
    }

    @Test func logsAddressesAsHostAndPort() async throws {
        // A gateway that refuses: it goes down, and a client that connects is logged as turned away.
        let refusing = try freePort()
        let vip = loopbackVIP()
        let port = try freePort()
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", site(vip: vip, port: port, gateways: [refusing]))
        let (device, _) = try await startDevice(file: file)
        defer { device.signal(SIGKILL) }
        #expect(await eventually { device.text.contains("Gateway is down") }, "\(device.text)")
        #expect(device.text.contains("gateway.address=127.0.0.1:\(refusing) "), "\(device.text)")
        let client = try await TestClient.connect(host: vip, port: port)
        _ = try? await withTimeout { try await client.run { inbound, _ in for try await _ in inbound {} } }
        #expect(await eventually { device.text.contains("No gateway could take the connection") }, "\(device.text)")
        let line = try #require(
            device.text.split(separator: "\n").first { $0.contains("No gateway could take the connection") }
        )
        #expect(line.contains(#/client\.address=127\.0\.0\.1:\d+ /#), "\(line)")
        #expect(!device.text.contains("[IPv4]"), "\(device.text)")
    }

    @Test func servesReloadsRejectsABadFileAndStopsGracefully() async throws {
        let gw1 = try await TestServer.start(.echo())
        let gw2 = try await TestServer.start(.echo())
        defer {
            Task {
                await gw1.kill()
                await gw2.kill()
            }
        }
        let vip = loopbackVIP()
        let port = try freePort()
        let directory = try TemporaryDirectory()
        let file = try directory.write("site.yaml", site(vip: vip, port: port, gateways: [gw1.port]))
        let device = try HALBProcess([
            "device", "--config", file, "--name", "lb1", "--admin", "127.0.0.1:0", "--drain-timeout", "20s",
        ])

        // Started: find the admin address in the log.
        #expect(await eventually { device.text.contains("Admin endpoint listening") })
        let admin = try #require(device.text.firstMatch(of: /admin\.address=(\S+)/)?.1).description
        #expect(
            await eventually { (try? await withTimeout { try await echoRoundTrip(host: vip, port: port) }) == "ping" }
        )
        #expect(gw1.stats.served.load(ordering: .relaxed) >= 1)

        let status = try await httpGet(admin, "/status")
        #expect(status.hasPrefix("HTTP/1.1 200"))
        #expect(status.contains("\"device\" : \"lb1\""))
        #expect(status.contains("\"address\" : \"\(vip):\(port)\""))
        let metrics = try await httpGet(admin, "/metrics")
        #expect(metrics.contains("halb_connections_accepted_total{virtual_server=\"web\"}"))
        #expect(metrics.contains("halb_gateway_up{gateway=\"gw1\",address=\"127.0.0.1:\(gw1.port)\"} 1.0"))

        // SIGHUP with an unchanged file re-reads it and changes nothing.
        device.signal(SIGHUP)
        #expect(await eventually { device.text.contains("reload.trigger=SIGHUP [HALBDevice] Configuration unchanged") })

        // A bad file is rejected; the device keeps serving the old configuration.
        _ = try directory.write("site.yaml", site(vip: vip, port: 70000, gateways: [gw2.port]))
        device.signal(SIGHUP)
        #expect(await eventually { device.text.contains("Configuration rejected") })
        #expect(device.text.contains("70000 is not a port"))
        #expect(try await withTimeout { try await echoRoundTrip(host: vip, port: port) } == "ping")

        // An alias bomb is rejected as fast as any bad file, and the device goes on serving and reloading.
        _ = try directory.write("site.yaml", aliasBomb)
        device.signal(SIGHUP)
        #expect(await eventually { device.text.contains("the document holds more than 250000 values") })
        #expect(try await withTimeout { try await echoRoundTrip(host: vip, port: port) } == "ping")

        // A good file swaps gw1 for gw2 on the next check of the file, without a signal; an open connection
        // survives it.
        let held = try await TestClient.connect(host: vip, port: port)
        _ = try directory.write("site.yaml", site(vip: vip, port: port, gateways: [gw2.port]))
        #expect(await eventually { device.text.contains("Configuration applied") })
        let before = gw2.stats.served.load(ordering: .relaxed)
        #expect(try await withTimeout { try await echoRoundTrip(host: vip, port: port) } == "ping")
        #expect(gw2.stats.served.load(ordering: .relaxed) == before + 1)
        let heldAnswer = try await withTimeout {
            try await held.run { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "held"))
                var reader = inbound.makeAsyncIterator()
                var buffer = try await reader.read(upTo: 4)
                return buffer.readString(length: buffer.readableBytes)
            }
        }
        #expect(heldAnswer == "held")

        // SIGTERM: stop accepting, let the open connection finish (the admin endpoint says "draining"), exit 0.
        let draining = try await TestClient.connect(host: vip, port: port)
        let answers = try await withTimeout(.seconds(30)) {
            try await draining.run { inbound, outbound in
                var reader = inbound.makeAsyncIterator()
                try await outbound.write(ByteBuffer(string: "before"))
                var before = try await reader.read(upTo: 6)  // the connection is established through the device
                device.signal(SIGTERM)
                #expect(await eventually { (try? await httpGet(admin, "/healthz"))?.hasPrefix("HTTP/1.1 503") == true })
                #expect(
                    await eventually {
                        (try? await withTimeout { try await echoRoundTrip(host: vip, port: port) }) == nil
                    }
                )
                #expect(device.process.isRunning)
                try await outbound.write(ByteBuffer(string: "after"))
                var after = try await reader.read(upTo: 5)
                return [before.readString(length: before.readableBytes), after.readString(length: after.readableBytes)]
            }
        }
        #expect(answers == ["before", "after"])
        #expect(await device.exitCode() == 0)
        #expect(device.text.contains("Device stopped"))
        #expect(!device.text.contains("Program crashed"))
    }
}

/// The help a user sees first says how to run a device.
@Suite struct HelpTests {
    @Test(arguments: [["help", "device"], ["device", "--help"]])
    func theDevicesHelpSaysHowToRunOne(arguments: [String]) async throws {
        let result = try await runHALB(arguments)
        #expect(result.status == 0)
        #expect(result.output.contains("halb device --config site.yaml --name lb1"), "\(result.output)")
        #expect(result.output.contains("halb device --console URL --name lb1 --state DIR"), "\(result.output)")
        // Its options are in the same help, not one level down.
        #expect(result.output.contains("--config <config>"), "\(result.output)")
        #expect(result.output.contains("--drain-timeout"), "\(result.output)")
    }

    @Test func deviceRunsADeviceAndDevicesEditsTheRecords() async throws {
        // `halb device list` is no longer a way to reach the console: `list` is not an option of a device.
        let list = try await runHALB(["device", "list"])
        #expect(list.status != 0)
        let records = try await runHALB(["devices", "--help"])
        #expect(records.output.contains("list"), "\(records.output)")
        #expect(records.output.contains("update"), "\(records.output)")
    }
}
