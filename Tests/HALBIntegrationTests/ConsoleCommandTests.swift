import Foundation
import HALBTestSupport
import Testing

/// `halb console` as operators run it: a real process, a real SQLite file, HTTP on loopback.
@Suite(.timeLimit(.minutes(2))) struct ConsoleCommandTests {
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

    /// Starts the console on a free port and returns it with its address.
    private func startConsole(data: String, environment: [String: String] = [:]) async throws -> (HALBProcess, String) {
        let console = try HALBProcess(["console", "--data", data, "--listen", "127.0.0.1:0"], environment: environment)
        var address: String?
        _ = await eventually(timeout: .seconds(20)) {
            guard let line = console.text.split(separator: "\n").first(where: { $0.contains("Console listening") }),
                let field = line.split(separator: " ").first(where: { $0.hasPrefix("console.address=") })
            else { return false }
            address = String(field.dropFirst("console.address=".count))
            return true
        }
        return (console, try #require(address, "\(console.text)"))
    }

    private func token(_ address: String, password: String) async throws -> String {
        let response = try await httpRequest(
            "POST",
            address,
            "/api/v1/login",
            body: #"{"user": "admin", "password": "\#(password)"}"#
        )
        let body = try #require(response.components(separatedBy: "\r\n\r\n").last)
        let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return try #require(object?["token"] as? String, "\(response)")
    }

    @Test func anAcknowledgedChangeSurvivesKillMinus9() async throws {
        let directory = try TemporaryDirectory()
        let data = directory.url.appendingPathComponent("console").path
        let password = "a long test password"
        let (console, address) = try await self.startConsole(data: data, environment: ["HALB_ADMIN_PASSWORD": password])
        #expect(!console.text.contains(password), "the password must not be printed or logged")
        let token = try await self.token(address, password: password)
        // Only the console's user may read the store: it holds password hashes and the devices' signing keys.
        let attributes = try FileManager.default.attributesOfItem(atPath: data + "/console.sqlite")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let directoryAttributes = try FileManager.default.attributesOfItem(atPath: data)
        #expect((directoryAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let created = try await httpRequest(
            "POST",
            address,
            "/api/v1/sites",
            headers: ["Authorization": "Bearer \(token)"],
            body: self.site
        )
        #expect(created.hasPrefix("HTTP/1.1 201"), "\(created)")
        let changed = try await httpRequest(
            "PUT",
            address,
            "/api/v1/sites/lab/gateways/gw1",
            headers: ["Authorization": "Bearer \(token)", "If-Match": "\"1\""],
            body: #"{"address": "192.0.2.29", "ports": {"gateway": 8080}}"#
        )
        #expect(changed.hasPrefix("HTTP/1.1 200"), "\(changed)")
        // Killed right after the acknowledgement: nothing may be lost.
        console.signal(SIGKILL)
        _ = await console.exitCode()

        let (restarted, newAddress) = try await self.startConsole(
            data: data,
            environment: ["HALB_ADMIN_PASSWORD": "ignored now"]
        )
        #expect(!restarted.text.contains("First start"))
        // The session token was stored too.
        let read = try await httpRequest(
            "GET",
            newAddress,
            "/api/v1/sites/lab/gateways/gw1",
            headers: ["Authorization": "Bearer \(token)"]
        )
        #expect(read.contains("ETag: \"2\"") || read.contains("etag: \"2\""), "\(read)")
        #expect(read.contains("192.0.2.29"), "\(read)")
        restarted.signal(SIGTERM)
        #expect(await restarted.exitCode() == 0, "\(restarted.text)")
    }

    @Test func theFirstStartPrintsAGeneratedPasswordOnceAndNeverLogsIt() async throws {
        let directory = try TemporaryDirectory()
        let data = directory.url.appendingPathComponent("console").path
        let (console, address) = try await self.startConsole(data: data)
        let line = try #require(
            console.text.split(separator: "\n").first { $0.hasPrefix("First start: created user admin with password ") }
        )
        let password = String(line.dropFirst("First start: created user admin with password ".count).prefix(20))
        #expect(console.text.components(separatedBy: password).count == 2, "printed exactly once")
        _ = try await self.token(address, password: password)
        let health = try await httpRequest("GET", address, "/healthz")
        #expect(health.hasPrefix("HTTP/1.1 200"))
        let unauthorized = try await httpRequest("GET", address, "/api/v1/sites")
        #expect(unauthorized.hasPrefix("HTTP/1.1 401"))
        console.signal(SIGTERM)
        #expect(await console.exitCode() == 0, "\(console.text)")
        #expect(console.text.components(separatedBy: password).count == 2, "and never logged")
    }

    @Test func guessedPasswordsAreThrottledAndLoggedOnOneEscapedLine() async throws {
        let directory = try TemporaryDirectory()
        let data = directory.url.appendingPathComponent("console").path
        let (console, address) = try await self.startConsole(
            data: data,
            environment: ["HALB_ADMIN_PASSWORD": "a long test password"]
        )
        #expect(console.text.contains("First start: created user admin with the password in HALB_ADMIN_PASSWORD"))
        #expect(!console.text.contains("is ignored"))
        // A user name that tries to forge a log line and colour the terminal.
        let body = #"{"user": "admin\r\n2026-01-01 notice halb: forged\u001b[31m", "password": "wrong guess"}"#
        var refused = 0
        var throttled: String?
        for _ in 0..<12 where throttled == nil {
            let answer = try await httpRequest(
                "POST",
                address,
                "/api/v1/login",
                headers: ["Content-Type": "application/json"],
                body: body
            )
            if answer.hasPrefix("HTTP/1.1 429") {
                throttled = answer
            } else if answer.hasPrefix("HTTP/1.1 401") {
                refused += 1
            }
        }
        // Five free failures and a sixth that starts the wait, then 429s until it is over.
        #expect(refused >= 6)
        let answer = try #require(throttled, "never throttled")
        #expect(answer.lowercased().contains("retry-after: "), "\(answer)")
        #expect(answer.contains("too many failed password checks"))
        #expect(await eventually { console.text.contains("Failed password check") })
        #expect(console.text.contains(#"admin\r\n2026-01-01 notice halb: forged\u{1B}[31m"#), "\(console.text)")
        #expect(!console.text.contains("\n2026-01-01 notice halb: forged"))
        #expect(!console.text.contains("\u{1B}"))
        console.signal(SIGTERM)
        #expect(await console.exitCode() == 0, "\(console.text)")
    }

    @Test(.enabled(if: getuid() == 0, "mounts a small tmpfs")) func aFullDiskAnswers503ForChangesAndRecovers()
        async throws
    {
        let directory = try TemporaryDirectory()
        let disk = directory.url.appendingPathComponent("disk").path
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mounted = try await runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "halb-test", disk])
        try #require(mounted.status == 0, "\(mounted.output)")
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = ["-l", disk]
            try? unmount.run()
            unmount.waitUntilExit()
        }
        let password = "a long test password"
        let (console, address) = try await self.startConsole(
            data: disk + "/console",
            environment: ["HALB_ADMIN_PASSWORD": password]
        )
        defer { console.signal(SIGKILL) }
        let token = try await self.token(address, password: password)
        let created = try await httpRequest(
            "POST",
            address,
            "/api/v1/sites",
            headers: ["Authorization": "Bearer \(token)"],
            body: self.site
        )
        #expect(created.hasPrefix("HTTP/1.1 201"), "\(created)")
        func change(_ version: Int, _ last: Int) async throws -> String {
            try await httpRequest(
                "PUT",
                address,
                "/api/v1/sites/lab/gateways/gw1",
                headers: [
                    "Authorization": "Bearer \(token)", "If-Match": "\"\(version)\"",
                    "Content-Type": "application/json",
                ],
                body: #"{"address": "192.0.2.\#(last)", "ports": {"gateway": 8080}}"#
            )
        }

        // Fill the disk; changes fail (the WAL may still take a few) with 503 and a reason, and the log says why.
        _ = try await runProgram("/bin/dd", ["if=/dev/zero", "of=\(disk)/filler", "bs=64k"])
        var version = 1
        var refused: String?
        for attempt in 0..<40 where refused == nil {
            let answer = try await change(version, 10 + attempt)
            if answer.hasPrefix("HTTP/1.1 200") { version += 1 } else { refused = answer }
        }
        let answer = try #require(refused, "no change was refused on a full disk")
        #expect(answer.hasPrefix("HTTP/1.1 503"), "\(answer)")
        #expect(answer.contains("the disk is full") && answer.contains("nothing was stored"), "\(answer)")
        #expect(await eventually { console.text.contains("The console cannot write its store") }, "\(console.text)")
        #expect(
            try await httpRequest("GET", address, "/api/v1/sites/lab", headers: ["Authorization": "Bearer \(token)"])
                .hasPrefix("HTTP/1.1 200")
        )

        // Space again: the next change is stored.
        try FileManager.default.removeItem(atPath: disk + "/filler")
        let stored = try await change(version, 99)
        #expect(stored.hasPrefix("HTTP/1.1 200"), "\(stored)")
        #expect(stored.contains("192.0.2.99"))
        console.signal(SIGTERM)
        #expect(await console.exitCode() == 0, "\(console.text)")
    }

    @Test func slowClientsCannotTakeTheConsolesConnections() async throws {
        let directory = try TemporaryDirectory()
        // Few descriptors, as in the attack: 256, so at most 192 connections.
        let console = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/prlimit"),
            arguments: [
                "--nofile=256:256", try halbExecutable().path, "console", "--data",
                directory.url.appendingPathComponent("console").path,
                "--listen", "127.0.0.1:0", "--request-head-timeout", "2s",
            ]
        )
        defer { console.signal(SIGKILL) }
        #expect(await eventually { console.text.contains("Console listening") })
        #expect(console.text.contains("connections.max=192"), "\(console.text)")
        let address = try #require(console.text.firstMatch(of: /console\.address=(\S+)/)?.1).description
        let port = try #require(address.split(separator: ":").last)
        // Seven addresses open 100 connections each and send half a request head, then wait 6 s and count how many
        // the console closed.
        let script = """
            import socket, sys, time
            socks = []
            for source in range(2, 9):
                for _ in range(100):
                    s = socket.socket()
                    s.bind(("127.0.0.%d" % source, 0))
                    try:
                        s.connect(("127.0.0.1", \(port)))
                        s.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n")
                        socks.append(s)
                    except OSError:
                        s.close()
            print("opened", len(socks), flush=True)
            deadline = time.time() + 6
            closed = set()
            while time.time() < deadline and len(closed) < len(socks):
                for s in socks:
                    if s in closed:
                        continue
                    try:
                        if s.recv(1, socket.MSG_DONTWAIT) == b"":
                            closed.add(s)
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed.add(s)
                time.sleep(0.1)
            print("closed", len(closed), flush=True)
            """
        let slow = try HALBProcess(executable: URL(fileURLWithPath: "/usr/bin/python3"), arguments: ["-c", script])
        defer { slow.signal(SIGKILL) }
        #expect(await eventually { slow.text.contains("opened") }, "\(slow.text)")
        // Meanwhile the health endpoint and the API answer (a slow machine may take a few tries while the console
        // sheds the 700).
        #expect(
            await eventually(timeout: .seconds(20)) {
                (try? await httpRequest("GET", address, "/healthz"))?.hasPrefix("HTTP/1.1 200") == true
            }
        )
        #expect(
            await eventually(timeout: .seconds(20)) {
                (try? await httpRequest("GET", address, "/api/v1/sites"))?.hasPrefix("HTTP/1.1 401") == true
            }
        )
        #expect(await eventually(timeout: .seconds(15)) { slow.text.contains("closed") }, "\(slow.text)")
        let opened = try #require(slow.text.firstMatch(of: /opened (\d+)/).flatMap { Int($0.1) })
        let closed = try #require(slow.text.firstMatch(of: /closed (\d+)/).flatMap { Int($0.1) })
        #expect(opened == 700)
        #expect(closed == opened, "every slow connection is closed: refused, evicted or timed out")
        #expect(console.text.contains("Console connection refused"))
        #expect(console.text.contains("reason=too many connections from one address"))
        #expect(try await httpRequest("GET", address, "/healthz").hasPrefix("HTTP/1.1 200"))
    }

    @Test func exportAndImportMoveASiteAsTheYAMLADeviceReads() async throws {
        let directory = try TemporaryDirectory()
        let data = directory.url.appendingPathComponent("console").path
        let file = try directory.write("lab.yaml", self.site)

        let imported = try await runHALB(["console", "import", "--data", data, file])
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.contains("Imported site lab as version 1."))
        let again = try await runHALB(["console", "import", "--data", data, file])
        #expect(again.status == 1)
        #expect(again.output.contains("site lab exists already"), "\(again.output)")
        let replaced = try await runHALB(["console", "import", "--data", data, file, "--replace"])
        #expect(replaced.output.contains("as version 2"), "\(replaced.output)")

        let exported = try await runHALB(["console", "export", "--data", data, "--site", "lab"])
        #expect(exported.status == 0)
        let exportedFile = try directory.write("exported.yaml", exported.output)
        let validated = try await runHALB(["validate", exportedFile, "--device", "lb1"])
        #expect(validated.status == 0, "\(validated.output)\n\(exported.output)")

        // A bad file changes nothing and names the field.
        let bad = try directory.write("bad.yaml", self.site.replacingOccurrences(of: "port: 80", with: "port: 70000"))
        let rejected = try await runHALB(["console", "import", "--data", data, bad, "--replace"])
        #expect(rejected.status == 1)
        #expect(rejected.output.contains("virtualServers[0].payloads.gateway.port"), "\(rejected.output)")
        let after = try await runHALB(["console", "export", "--data", data, "--site", "lab"])
        #expect(after.output.contains("version: 2"))
    }
}
