import Atomics
import Foundation
import HALBTestSupport
import NIOCore
import Testing

/// `halb demo`, the README's first command: a console, three gateways and two devices enrolled with it. The
/// gateways take turns, a stopped gateway is skipped, stopping the primary moves the VIP to the secondary, and the
/// admin commands change the site through the console. It uses the fixed demo addresses (127.0.0.10:8080,
/// 127.0.0.1:18081-18083, 127.0.0.11-12, the VRRP port 18112 and the admin ports 9101-9102), so the tests run one
/// after the other and fail when a demo is already running.
@Suite(.serialized, .timeLimit(.minutes(2))) struct DemoTests {
    static let site = "127.0.0.10:8080"

    /// The gateway that answered one HTTP request to `address` ("gwN"), or "" when none did.
    func answer(_ address: String = Self.site) async -> String {
        guard let response = try? await httpGet(address, "/") else { return "" }
        return response.firstMatch(of: /Hello from (gw\d)/).map { String($0.1) } ?? ""
    }

    /// The running demo and its admin commands, as printed.
    struct Demo {
        let process: HALBProcess
        let admin: String
        let console: String
        let environment: [String: String]

        static func start() async throws -> Demo {
            let process = try HALBProcess(["demo", "--admin", "127.0.0.1:0", "--console-listen", "127.0.0.1:0"])
            #expect(await eventually { process.text.contains("Press Ctrl-C to stop.") }, "\(process.text)")
            let admin = try #require(process.text.firstMatch(of: /admin\.address=(\S+)/)?.1).description
            let console = try #require(process.text.firstMatch(of: /export HALB_CONSOLE=(\S+) HALB_TOKEN=(\S+)/))
            return Demo(
                process: process,
                admin: admin,
                console: String(console.1),
                environment: ["HALB_CONSOLE": String(console.1), "HALB_TOKEN": String(console.2)]
            )
        }

        /// Runs an admin command against the demo's console.
        func halb(
            _ arguments: [String],
            input: String? = nil,
            environment: [String: String]? = nil
        ) async throws -> (status: Int32?, output: String) {
            var arguments = arguments
            var file: URL?
            if let input {
                let url = FileManager.default.temporaryDirectory.appendingPathComponent(
                    "halb-demo-test-\(UUID().uuidString).yaml"
                )
                file = url
                try input.write(to: url, atomically: true, encoding: .utf8)
                arguments.append(url.path)
            }
            defer { if let file { try? FileManager.default.removeItem(at: file) } }
            let process = try HALBProcess(arguments, environment: environment ?? self.environment)
            let status = await process.exitCode()
            try? await Task.sleep(for: .milliseconds(50))
            return (status, process.text)
        }

        /// Whether device `name` logged that it applied version `version` of the site from the console.
        func applied(_ name: String, version: Int) -> Bool {
            self.process.text.split(separator: "\n").contains {
                $0.contains("device.name=\(name) ") && $0.contains("site.version=\(version) ")
                    && $0.contains("Configuration from the console applied")
            }
        }

        /// The VRRP states device `name` went to, in order ("backup", "master", ...).
        func transitions(_ name: String) -> [String] {
            self.process.text.split(separator: "\n").compactMap { line in
                guard line.contains("device.name=\(name) "), line.contains("VRRP transition") else { return nil }
                return line.firstMatch(of: /vrrp\.to=(\w+)/).map { String($0.1) }
            }
        }

        /// The console's agent status of every device, by name.
        func statuses() async throws -> [String: [String: Any]] {
            let status = try await self.halb(["status", "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(status.output.utf8)) as? [String: Any]
            let devices = object?["devices"] as? [[String: Any]] ?? []
            return Dictionary(devices.map { (($0["device"] as? String) ?? "", $0) }) { first, _ in first }
        }
    }

    /// README's "Try it" list is the one the demo prints, line for line (with the demo's default addresses).
    @Test func readmeListsWhatTheDemoPrints() async throws {
        let demo = try await Demo.start()
        defer { demo.process.signal(SIGINT) }
        func commands(_ text: Substring) -> [String] {
            text.split(separator: "\n").map { line in
                // The command and its comment, whatever the spacing between them.
                let parts = line.split(separator: "  # ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                return parts.joined(separator: " # ")
            }
        }
        let text = demo.process.text
        let start = try #require(
            text.range(of: "Or try, in another terminal (the first line puts halb on the PATH):\n")
        )
        let end = try #require(text.range(of: "\n\nPress Ctrl-C to stop.", range: start.upperBound..<text.endIndex))
        let adminPort = try #require(demo.admin.split(separator: ":").last)
        var printed = commands(text[start.upperBound..<end.lowerBound])
        printed = printed.map { line in
            line.replacing(demo.console, with: "http://127.0.0.1:8440")
                .replacing("127.0.0.1:\(adminPort)/", with: "127.0.0.1:9100/")
                .replacing(/HALB_TOKEN=\S+/, with: "HALB_TOKEN=...")
                .replacing(/^export PATH="[^"]+:\$PATH"$/, with: #"export PATH="$(swift build --show-bin-path):$PATH""#)
        }
        let readme = try String(contentsOf: packageRoot().appendingPathComponent("README.md"), encoding: .utf8)
        let block = try #require(readme.firstMatch(of: /```\n(  export PATH=[^`]*)```/)?.1)
        #expect(commands(block) == printed)
    }

    @Test func theGatewaysTakeTurnsAStoppedOneIsSkippedAndTheSecondaryTakesOver() async throws {
        let demo = try await Demo.start()
        // The web page's URL and the admin's one-time password are printed first, and they log in.
        let printed = try #require(
            demo.process.text.firstMatch(
                of: /\n\nOpen the console's web page: (http:\S+)\/ +user admin, password (\S+)\n/
            )
        )
        #expect(String(printed.1) == demo.console)
        let config = try TemporaryDirectory()
        let login = try await demo.halb(
            ["login", "--console", demo.console, "--user", "admin"],
            environment: ["HALB_PASSWORD": String(printed.2), "XDG_CONFIG_HOME": config.url.path]
        )
        #expect(login.output.contains("as admin (admin)"), "\(login.output)")
        // The devices enrolled with the console; lb1 becomes primary (preempting lb2 if lb2's failover started first).
        #expect(await eventually(timeout: .seconds(20)) { demo.transitions("lb1").last == "master" })
        #expect(await eventually(timeout: .seconds(20)) { await self.answer().hasPrefix("gw") })
        #expect(
            await eventually(timeout: .seconds(10)) {
                var seen: Set<String> = []
                for _ in 0..<6 { seen.insert(await self.answer()) }
                return seen == ["gw1", "gw2", "gw3"]
            }
        )
        #expect(
            await eventually(timeout: .seconds(15)) {
                let statuses = (try? await demo.statuses()) ?? [:]
                return statuses["lb1"]?["state"] as? String == "OK" && statuses["lb2"]?["state"] as? String == "OK"
            }
        )

        // The virtual server changes through the console, as the demo suggests: gw2 leaves it on both devices.
        let web = try await demo.halb(["vs", "show", "web"])
        let update = try await demo.halb(
            ["vs", "update", "web"],
            input: web.output.replacingOccurrences(of: #""gw2","#, with: "")
        )
        #expect(update.output.contains("site demo is at version 2"), "\(update.output)")
        #expect(
            await eventually { demo.applied("lb1", version: 2) && demo.applied("lb2", version: 2) },
            "\(demo.process.text)"
        )
        var after: Set<String> = []
        for _ in 0..<6 { after.insert(await self.answer()) }
        #expect(after == ["gw1", "gw3"], "answers: \(after)")

        // A stopped gateway is marked down and skipped.
        let stopped = try await httpRequest("POST", demo.admin, "/demo/gateways/gw3/stop")
        #expect(stopped.hasPrefix("HTTP/1.1 200"))
        #expect(
            await eventually {
                demo.process.text.split(separator: "\n").contains {
                    $0.contains("device.name=lb1 gateway.address=127.0.0.1:18083") && $0.contains("Gateway is down")
                }
            }
        )
        after = []
        for _ in 0..<4 { after.insert(await self.answer()) }
        #expect(after == ["gw1"], "answers: \(after)")

        // Stop the primary: it resigns and the secondary serves the VIP.
        _ = try await httpRequest("POST", demo.admin, "/demo/devices/lb1/stop")
        #expect(
            await eventually { demo.process.text.contains("device.name=lb2 reason=the master resigned (priority 0)") }
        )
        #expect(await eventually { await self.answer() == "gw1" })

        demo.process.signal(SIGINT)
        #expect(await demo.process.exitCode() == 0)
        #expect(!demo.process.text.contains("Program crashed"))
        // The devices stopped with the demo: nothing serves the VIP any more.
        #expect(await eventually { await self.answer() == "" })
    }

    /// The README's promise: while the primary stops and comes back, a client connecting every 10 ms keeps getting
    /// answers. The device taking over listens before the one handing over closes, so no connection is refused;
    /// at most a connection in flight (accepted by the closing listener's kernel queue at the moment it closes)
    /// fails, one per hand-over.
    @Test func aClientIsNeverRefusedWhileThePrimaryStopsAndComesBack() async throws {
        let demo = try await Demo.start()
        // lb1 is primary (after preempting lb2 when lb2's failover started first) and lb2 secondary.
        #expect(
            await eventually(timeout: .seconds(20)) {
                demo.transitions("lb1").last == "master" && demo.transitions("lb2").last == "backup"
            }
        )
        #expect(await eventually(timeout: .seconds(20)) { await self.answer().hasPrefix("gw") })

        let probe = ClientProbe(address: Self.site)
        let probing = Task { await probe.run() }
        try await Task.sleep(for: .milliseconds(500))
        _ = try await httpRequest("POST", demo.admin, "/demo/devices/lb1/stop")
        #expect(
            await eventually { demo.process.text.contains("device.name=lb2 reason=the master resigned (priority 0)") }
        )
        #expect(
            await eventually {
                demo.process.text.contains("device.name=lb1 ") && demo.process.text.contains("Device stopped")
            }
        )
        try await Task.sleep(for: .milliseconds(500))
        let before = demo.transitions("lb1").count
        _ = try await httpRequest("POST", demo.admin, "/demo/devices/lb1/start")
        // lb1 preempts lb2, which hands over and closes its listener a moment later.
        #expect(
            await eventually(timeout: .seconds(20)) { demo.transitions("lb1").dropFirst(before).contains("master") },
            "\(demo.process.text)"
        )
        #expect(demo.process.text.contains("device.name=lb1 reason=preempted 127.0.0.12 (priority 190, ours 200)"))
        #expect(
            await eventually {
                let lines = demo.process.text.split(separator: "\n")
                guard let preempted = lines.lastIndex(where: { $0.contains("device.name=lb1 reason=preempted") }) else {
                    return false
                }
                return lines[preempted...].contains {
                    $0.contains("device.name=lb2 ") && $0.contains("Listener closed")
                }
            }
        )
        try await Task.sleep(for: .milliseconds(300))
        probe.stop()
        let result = await probing.value
        #expect(result.refused == 0, "\(result)")
        #expect(result.failed <= 2, "\(result)")
        #expect(result.answered >= 200, "\(result)")

        demo.process.signal(SIGINT)
        #expect(await demo.process.exitCode() == 0)
    }

    /// The issue's end-to-end case: console, two devices, three gateways; a virtual server created with the CLI
    /// reaches both devices, and changing its gateways drops no established connection.
    @Test func aVirtualServerCreatedWithTheCommandLineReachesBothDevicesAndAGatewayChangeDropsNoConnection()
        async throws
    {
        let demo = try await Demo.start()
        #expect(
            await eventually(timeout: .seconds(20)) {
                let statuses = (try? await demo.statuses()) ?? [:]
                return statuses["lb1"]?["state"] as? String == "OK" && statuses["lb2"]?["state"] as? String == "OK"
            }
        )
        let address = "127.0.0.20:8081"
        func virtualServer(gateways: String) -> String {
            """
            { name: web2, vip: { ipv4: 127.0.0.20/8 }, vrrp: { advertInterval: 100ms }, devices: [lb2, lb1],
              payloads: { gateway: { port: 8081, gateways: [\(gateways)], balancing: roundrobin } },
              healthCheck: { type: http, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 } }
            """
        }
        let created = try await demo.halb(["vs", "create"], input: virtualServer(gateways: "gw1, gw2, gw3"))
        #expect(created.output.contains("Created virtual server web2; site demo is at version 2."), "\(created.output)")
        // Both devices apply it (the long poll answers at once: bench/propagation.py measures how fast), and the
        // new primary, lb2 (first in the list), serves it while lb1 stands by.
        #expect(
            await eventually { demo.applied("lb1", version: 2) && demo.applied("lb2", version: 2) },
            "\(demo.process.text)"
        )
        #expect(await eventually(timeout: .seconds(20)) { await self.answer(address).hasPrefix("gw") })
        #expect(
            await eventually(timeout: .seconds(15)) {
                let roles = ((try? await demo.statuses()) ?? [:]).mapValues { device in
                    (device["roles"] as? [[String: Any]] ?? []).first { $0["virtualServer"] as? String == "web2" }?[
                        "role"
                    ] as? String
                }
                return roles["lb2"] == "primary" && roles["lb1"] == "secondary"
            }
        )

        // Six keep-alive connections, one per gateway answer; then gw2 and gw3 leave the virtual server.
        let gate = Gate()
        let firstAnswers = ManagedAtomic(0)
        let parts = address.split(separator: ":")
        let sessions = Task {
            try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        let client = try await TestClient.connect(host: String(parts[0]), port: Int(parts[1])!)
                        return try await client.run { inbound, outbound in
                            var reader = inbound.makeAsyncIterator()
                            var answers: [String] = []
                            for round in 0..<2 {
                                if round == 1 {
                                    firstAnswers.wrappingIncrement(ordering: .relaxed)
                                    await gate.wait()
                                }
                                try await outbound.write(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: demo\r\n\r\n"))
                                var text = ""
                                while text.firstMatch(of: /Hello from gw\d\n/) == nil,
                                    var next = try await reader.next()
                                {
                                    text += next.readString(length: next.readableBytes) ?? ""
                                }
                                answers.append(
                                    text.firstMatch(of: /Hello from (gw\d)\n/).map { String($0.1) } ?? "closed"
                                )
                            }
                            return answers
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        defer { sessions.cancel() }
        #expect(await eventually { firstAnswers.load(ordering: .relaxed) == 6 })
        let updated = try await demo.halb(["vs", "update", "web2"], input: virtualServer(gateways: "gw1"))
        #expect(updated.output.contains("site demo is at version 3"), "\(updated.output)")
        #expect(
            await eventually { demo.applied("lb1", version: 3) && demo.applied("lb2", version: 3) },
            "\(demo.process.text)"
        )
        await gate.open()
        let answers = try await withTimeout { try await sessions.value }
        // Every connection answered again, through the gateway it had: none was dropped.
        #expect(answers.count == 6)
        #expect(answers.allSatisfy { $0.count == 2 && $0[0] == $0[1] && $0[0].hasPrefix("gw") }, "\(answers)")
        #expect(Set(answers.map { $0[0] }) == ["gw1", "gw2", "gw3"], "\(answers)")
        // New connections reach gw1 only.
        var fresh: Set<String> = []
        for _ in 0..<4 { fresh.insert(await self.answer(address)) }
        #expect(fresh == ["gw1"], "\(fresh)")

        demo.process.signal(SIGINT)
        #expect(await demo.process.exitCode() == 0)
    }
}

/// Holds tasks until it opens.
private actor Gate {
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if self.isOpen { return }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    func open() {
        self.isOpen = true
        for waiter in self.waiting { waiter.resume() }
        self.waiting = []
    }
}

/// A client that connects every 10 ms and sends one HTTP request, until stopped (at most 6000 times, 2 minutes),
/// and counts what happened.
private final class ClientProbe: Sendable {
    struct Result: CustomStringConvertible {
        var answered = 0
        /// Connections refused (nothing listened).
        var refused = 0
        /// Connections made that closed without an answer, or that failed otherwise.
        var failed = 0
        var errors: [String] = []
        var description: String {
            "\(self.answered) answered, \(self.refused) refused, \(self.failed) failed: \(self.errors.prefix(5))"
        }
    }

    private let address: String
    private let stopped = ManagedAtomic(false)

    init(address: String) {
        self.address = address
    }

    func stop() {
        self.stopped.store(true, ordering: .relaxed)
    }

    func run() async -> Result {
        var result = Result()
        let deadline = ContinuousClock.now.advanced(by: .seconds(120))
        for _ in 0..<6000 where !self.stopped.load(ordering: .relaxed) && ContinuousClock.now < deadline {
            do {
                let response = try await httpGet(self.address, "/")
                if response.contains("Hello from gw") {
                    result.answered += 1
                } else {
                    result.failed += 1
                    result.errors.append("no answer: \(response.prefix(60))")
                }
            } catch {
                let text = "\(error)"
                if text.contains("refused") {
                    result.refused += 1
                } else {
                    result.failed += 1
                }
                result.errors.append(text)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return result
    }
}
