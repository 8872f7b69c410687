import Atomics
import Foundation
import HALBTestSupport
import NIOCore
import Testing

/// Whether `process` logged `message` with `metadata` on one line.
private func logged(_ process: HALBProcess, _ message: String, _ metadata: String) -> Bool {
    process.text.split(separator: "\n").contains { $0.contains(message) && $0.contains(metadata) }
}

/// A device that takes its configuration from the console: enrolment, changes within a second, NACK of a
/// configuration it cannot run, agent status, and the cache when the console is away.
@Suite(.timeLimit(.minutes(2))) struct ManagedDeviceTests {
    private func site(vip: String, port: Int, gateway: Int) -> String {
        """
        site: lab
        gateways:
          - { name: gw1, address: 127.0.0.1, ports: { gateway: \(gateway) } }
        devices:
          - { name: lb1, address: 127.0.0.1, interface: lo }
          - { name: lb2, address: 127.0.0.1, interface: lo }
        virtualServers:
          - name: web
            vip: { ipv4: \(vip)/8 }
            devices: [lb1]
            payloads:
              gateway: { port: \(port) }
            healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }

        """
    }

    private struct Console {
        var process: HALBProcess
        var address: String
        var token: String

        func request(_ method: String, _ path: String, ifMatch: Int? = nil, body: String = "") async throws -> String {
            var headers = ["Authorization": "Bearer \(self.token)"]
            if let ifMatch { headers["If-Match"] = "\"\(ifMatch)\"" }
            return try await httpRequest(method, self.address, path, headers: headers, body: body)
        }

        func json(_ method: String, _ path: String, ifMatch: Int? = nil, body: String = "") async throws -> Any? {
            let response = try await self.request(method, path, ifMatch: ifMatch, body: body)
            guard let text = response.components(separatedBy: "\r\n\r\n").last else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(text.utf8))
        }

        /// The agent status of `device`.
        func status(of device: String) async throws -> [String: Any]? {
            let status = try await self.json("GET", "/api/v1/sites/lab/status") as? [String: Any]
            return (status?["devices"] as? [[String: Any]])?.first { $0["device"] as? String == device }
        }
    }

    private func startConsole(data: String, port: Int = 0) async throws -> Console {
        let password = "managed device test"
        let process = try HALBProcess(
            ["console", "--data", data, "--listen", "127.0.0.1:\(port)"],
            environment: ["HALB_ADMIN_PASSWORD": password]
        )
        #expect(await eventually { process.text.contains("Console listening") }, "\(process.text)")
        let address = try #require(process.text.firstMatch(of: /console\.address=(\S+)/)?.1).description
        let login = try await httpRequest(
            "POST",
            address,
            "/api/v1/login",
            body: #"{"user": "admin", "password": "\#(password)"}"#
        )
        let token = try #require(login.firstMatch(of: /"token":"([^"]+)"/)?.1).description
        return Console(process: process, address: address, token: token)
    }

    @Test func aManagedDeviceFollowsTheConsoleAndServesItsCacheWhenTheConsoleIsAway() async throws {
        let gw1 = try await TestServer.start(.echo())
        let gw2 = try await TestServer.start(.echo())
        defer {
            Task {
                await gw1.kill()
                await gw2.kill()
            }
        }
        let directory = try TemporaryDirectory()
        let data = directory.url.appendingPathComponent("console").path
        let state = directory.url.appendingPathComponent("lb1").path
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        let console = try await self.startConsole(data: data)

        let created = try await console.request(
            "POST",
            "/api/v1/sites",
            body: self.site(vip: vip, port: port, gateway: gw1.port)
        )
        #expect(created.hasPrefix("HTTP/1.1 201"), "\(created)")
        #expect(try await console.status(of: "lb1")?["state"] as? String == "Not verified")
        let join = try #require(
            try await console.json("POST", "/api/v1/sites/lab/join-tokens", body: #"{"device": "lb1"}"#)
                as? [String: Any]
        )
        let joinToken = try #require(join["token"] as? String)

        // Enrol and serve.
        // On the command line a token would be readable by every user of the machine: refused.
        let onTheCommandLine = try await runHALB([
            "device", "--console", "http://\(console.address)", "--name", "lb1", "--state", state, "--join-token",
            joinToken,
        ])
        #expect(onTheCommandLine.status != 0)
        #expect(
            onTheCommandLine.output.contains("give it in HALB_JOIN_TOKEN or --join-token-file FILE"),
            "\(onTheCommandLine.output)"
        )
        let tokenFile = try directory.write("join-token", joinToken + "\n")
        let device = try HALBProcess([
            "device", "--console", "http://\(console.address)", "--name", "lb1", "--state", state, "--join-token-file",
            tokenFile,
            "--admin", "127.0.0.1:0",
        ])
        #expect(
            await eventually(timeout: .seconds(20)) {
                (try? await withTimeout { try await echoRoundTrip(host: vip, port: port) }) == "ping"
            },
            "\(device.text)"
        )
        #expect(gw1.stats.served.load(ordering: .relaxed) >= 1)
        #expect(!device.text.contains(joinToken), "the join token must not be logged")
        // The token file is gone once the device is enrolled.
        #expect(!FileManager.default.fileExists(atPath: tokenFile), "\(device.text)")
        // The join token is used up.
        let again = try await httpRequest(
            "POST",
            console.address,
            "/agent/v1/enrol",
            body: #"{"joinToken": "\#(joinToken)", "device": "lb1"}"#
        )
        #expect(again.hasPrefix("HTTP/1.1 401"), "\(again)")

        // Agent status: OK, version 1 applied, standalone role, gateway health.
        #expect(
            await eventually(timeout: .seconds(15)) {
                (try? await console.status(of: "lb1"))?["state"] as? String == "OK"
            }
        )
        let status = try #require(try await console.status(of: "lb1"))
        #expect(status["appliedVersion"] as? Int == 1)
        #expect((status["roles"] as? [[String: Any]])?.first?["role"] as? String == "standalone")
        #expect(try await console.status(of: "lb2")?["state"] as? String == "Not verified")

        // A change through the API reaches the device at once (long poll): gw1 is replaced by gw2.
        let changed = try await console.request(
            "PUT",
            "/api/v1/sites/lab/gateways/gw1",
            ifMatch: 1,
            body: #"{"address": "127.0.0.1", "ports": {"gateway": \#(gw2.port)}}"#
        )
        #expect(changed.hasPrefix("HTTP/1.1 200"), "\(changed)")
        #expect(
            await eventually { logged(device, "Configuration from the console applied", "site.version=2") },
            "\(device.text)"
        )
        let before = gw2.stats.served.load(ordering: .relaxed)
        #expect(
            await eventually {
                (try? await withTimeout { try await echoRoundTrip(host: vip, port: port) }) == "ping"
                    && gw2.stats.served.load(ordering: .relaxed) > before
            }
        )
        #expect(await eventually { (try? await console.status(of: "lb1"))?["appliedVersion"] as? Int == 2 })

        // A configuration the device cannot run (its listener port is taken on the device) is refused: NACK,
        // "Config error" with the reason, and the device keeps serving version 2.
        let blocker = try await TestServer.start(.echo())
        defer { Task { await blocker.kill() } }
        let refused = try await console.request(
            "PUT",
            "/api/v1/sites/lab/virtual-servers/web",
            ifMatch: 2,
            body: """
                {"vip": {"ipv4": "127.0.0.1/8"}, "devices": ["lb1"], "payloads": {"gateway": {"port": \(blocker.port)}}}
                """
        )
        #expect(refused.hasPrefix("HTTP/1.1 200"), "\(refused)")
        #expect(await eventually { (try? await console.status(of: "lb1"))?["state"] as? String == "Config error" })
        let error = try await console.status(of: "lb1")?["error"] as? String
        #expect(error?.hasPrefix("version 3:") == true, "\(error ?? "")")
        #expect(try await withTimeout { try await echoRoundTrip(host: vip, port: port) } == "ping")

        // Back to a good version: OK again.
        _ = try await console.request("POST", "/api/v1/sites/lab/versions/2/rollback", ifMatch: 3)
        #expect(await eventually { (try? await console.status(of: "lb1"))?["state"] as? String == "OK" })
        #expect(try await console.status(of: "lb1")?["appliedVersion"] as? Int == 4)

        // The console goes away; the device restarts without it and serves its cached configuration.
        console.process.signal(SIGKILL)
        _ = await console.process.exitCode()
        device.signal(SIGTERM)
        #expect(await device.exitCode() == 0, "\(device.text)")
        let restarted = try HALBProcess([
            "device", "--console", "http://\(console.address)", "--name", "lb1", "--state", state, "--admin",
            "127.0.0.1:0",
        ])
        #expect(
            await eventually { logged(restarted, "Starting from the cached configuration", "site.version=4") },
            "\(restarted.text)"
        )
        #expect(
            await eventually { (try? await withTimeout { try await echoRoundTrip(host: vip, port: port) }) == "ping" },
            "\(restarted.text)"
        )
        // Signals are handled once the services run (the admin endpoint is up by then).
        #expect(await eventually { restarted.text.contains("Admin endpoint listening") })
        restarted.signal(SIGTERM)
        #expect(await restarted.exitCode() == 0, "\(restarted.text)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl"))
    func aCertificateUploadedToTheConsoleReachesItsDevicesSealedAndAReplacementIsServedAtOnce() async throws {
        let directory = try TemporaryDirectory()
        let (first, firstKey) = try await makeCertificate(
            in: directory,
            name: "managed-1",
            subjectAltName: "DNS:offload.test"
        )
        let (second, secondKey) = try await makeCertificate(
            in: directory,
            name: "managed-2",
            subjectAltName: "DNS:offload.test"
        )
        let (_, strangerKey) = try await makeCertificate(in: directory, name: "stranger")
        let gatewayPort = try freePort()
        let gateway = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: ["-c", TLSOffloadTests.gateway, "\(gatewayPort)"]
        )
        defer { gateway.signal(SIGTERM) }
        #expect(await accepts(port: gatewayPort), "\(gateway.text)")
        let data = directory.url.appendingPathComponent("console").path
        let state = directory.url.appendingPathComponent("lb1").path
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        let plainPort = try freePort()
        let console = try await self.startConsole(data: data)
        let admin = ["HALB_CONSOLE": "http://\(console.address)", "HALB_TOKEN": console.token]
        func site(ssl: String) -> String {
            """
            site: lab
            gateways:
              - { name: gw1, address: 127.0.0.1, ports: { gateway: \(gatewayPort), ssl: \(gatewayPort) } }
            devices:
              - { name: lb1, address: 127.0.0.1, interface: lo }
            virtualServers:
              - name: rdp
                vip: { ipv4: \(vip)/8 }
                devices: [lb1]
                payloads:
                  gateway: { port: \(plainPort) }
                  \(ssl)
                healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, rise: 1, fall: 2 }

            """
        }
        let offload = "ssl: { port: \(port), mode: offload, managedCertificate: rdp }"

        // A virtual server cannot name a certificate the console does not hold.
        let early = try await console.request("POST", "/api/v1/sites", body: site(ssl: offload))
        #expect(
            early.hasPrefix("HTTP/1.1 422") && early.contains("virtualServers[0].payloads.ssl.managedCertificate"),
            "\(early)"
        )
        #expect(try await console.request("POST", "/api/v1/sites", body: site(ssl: "")).hasPrefix("HTTP/1.1 201"))

        // Upload (CLI); a key of another certificate is refused, naming the field.
        let refused = try await runHALB(
            ["certificate", "upload", "rdp", "--certificate", first, "--key", strangerKey],
            environment: admin
        )
        #expect(
            refused.status == 1 && refused.output.contains("privateKey: does not belong to certificate"),
            "\(refused.output)"
        )
        let uploaded = try await runHALB(
            ["certificate", "upload", "rdp", "--certificate", first, "--key", firstKey],
            environment: admin
        )
        #expect(
            uploaded.status == 0 && uploaded.output.contains("Stored certificate rdp (CN=managed-1"),
            "\(uploaded.output)"
        )

        // The virtual server offloads with it; the device enrols and serves it.
        let vs = try #require(try await console.json("GET", "/api/v1/sites/lab/virtual-servers/rdp") as? [String: Any])
        var payloads = try #require(vs["payloads"] as? [String: Any])
        payloads["ssl"] = ["port": port, "mode": "offload", "managedCertificate": "rdp"]
        var changedVS = vs
        changedVS["payloads"] = payloads
        let body = String(decoding: try JSONSerialization.data(withJSONObject: changedVS), as: UTF8.self)
        let changed = try await console.request("PUT", "/api/v1/sites/lab/virtual-servers/rdp", ifMatch: 1, body: body)
        #expect(changed.hasPrefix("HTTP/1.1 200"), "\(changed)")
        let join = try #require(
            try await console.json("POST", "/api/v1/sites/lab/join-tokens", body: #"{"device": "lb1"}"#)
                as? [String: Any]
        )
        let joinToken = try #require(join["token"] as? String)
        let device = try HALBProcess(
            [
                "device", "--console", "http://\(console.address)", "--name", "lb1", "--state", state, "--admin",
                "127.0.0.1:0",
            ],
            environment: ["HALB_JOIN_TOKEN": joinToken]
        )
        func curl(trusting ca: String) async -> String {
            (try? await runProgram(
                "/usr/bin/curl",
                [
                    "-sS", "--max-time", "5", "--cacert", ca, "--resolve", "offload.test:\(port):\(vip)",
                    "https://offload.test:\(port)/",
                ]
            ))?.output ?? ""
        }
        #expect(
            await eventually(timeout: .seconds(20)) { await curl(trusting: first) == "hello from the gateway\n" },
            "\(device.text)"
        )

        // The key is sealed in the console's store and only a file of the device's user on the device.
        let keyLine = try #require(
            try String(contentsOfFile: firstKey, encoding: .utf8).split(separator: "\n").dropFirst().first
        )
        for file in try FileManager.default.contentsOfDirectory(atPath: data) {
            let bytes = try #require(FileManager.default.contents(atPath: "\(data)/\(file)"))
            #expect(bytes.range(of: Data(keyLine.utf8)) == nil, "\(file) holds the private key in clear")
        }
        let keyFiles = try FileManager.default.contentsOfDirectory(atPath: "\(state)/certificates").filter {
            $0.hasSuffix(".key")
        }
        #expect(keyFiles.count == 1)
        let mode =
            try FileManager.default.attributesOfItem(atPath: "\(state)/certificates/\(keyFiles[0])")[.posixPermissions]
            as? Int
        #expect(mode == 0o600)
        #expect(!device.text.contains(keyLine) && !console.process.text.contains(keyLine))

        // A replacement gives the site a new version; the device serves it to new connections at once.
        let replaced = try await runHALB(
            ["certificate", "upload", "rdp", "--certificate", second, "--key", secondKey],
            environment: admin
        )
        #expect(
            replaced.status == 0 && replaced.output.contains("virtual servers rdp load it now"),
            "\(replaced.output)"
        )
        #expect(
            await eventually { logged(device, "Configuration from the console applied", "site.version=3") },
            "\(device.text)"
        )
        #expect(await eventually { await curl(trusting: second) == "hello from the gateway\n" })
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: "\(state)/certificates").count == 2,
            "the old pair is removed"
        )

        // Listed with its users; in use, it cannot be deleted.
        let list = try await runHALB(["certificate", "list"], environment: admin)
        #expect(list.output.contains("rdp") && list.output.contains("CN=managed-2"), "\(list.output)")
        let delete = try await runHALB(["certificate", "delete", "rdp"], environment: admin)
        #expect(delete.status == 1 && delete.output.contains("used by virtual server rdp"), "\(delete.output)")

        // Without the console, a restarted device serves the cached certificate.
        console.process.signal(SIGKILL)
        _ = await console.process.exitCode()
        device.signal(SIGTERM)
        #expect(await device.exitCode() == 0, "\(device.text)")
        // Restarted as its unit file started it, with the (used) join token still given: the identity counts.
        let restarted = try HALBProcess(
            [
                "device", "--console", "http://\(console.address)", "--name", "lb1", "--state", state, "--admin",
                "127.0.0.1:0",
            ],
            environment: ["HALB_JOIN_TOKEN": joinToken]
        )
        defer { restarted.signal(SIGTERM) }
        #expect(await eventually { await curl(trusting: second) == "hello from the gateway\n" }, "\(restarted.text)")
        #expect(restarted.text.contains("Enrolled already; the join token was not used"))
        #expect(!restarted.text.contains(joinToken))
    }

    @Test func aDeviceOnOlderSoftwareShowsNeedsUpdate() async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let directory = try TemporaryDirectory()
        let console = try await self.startConsole(data: directory.url.appendingPathComponent("console").path)
        defer { console.process.signal(SIGTERM) }
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        _ = try await console.request(
            "POST",
            "/api/v1/sites",
            body: self.site(vip: vip, port: try freePort(), gateway: gateway.port)
        )
        let join = try #require(
            try await console.json("POST", "/api/v1/sites/lab/join-tokens", body: #"{"device": "lb1"}"#)
                as? [String: Any]
        )
        let device = try HALBProcess(
            [
                "device", "--console", "http://\(console.address)", "--name", "lb1", "--state",
                directory.url.appendingPathComponent("lb1").path, "--admin", "127.0.0.1:0",
            ],
            environment: ["HALB_REPORTED_VERSION": "0.0.9", "HALB_JOIN_TOKEN": try #require(join["token"] as? String)]
        )
        #expect(
            await eventually(timeout: .seconds(15)) {
                (try? await console.status(of: "lb1"))?["state"] as? String == "Needs update"
            },
            "\(device.text)"
        )
        #expect(try await console.status(of: "lb1")?["softwareVersion"] as? String == "0.0.9")
        #expect(await eventually { device.text.contains("Admin endpoint listening") })
        device.signal(SIGTERM)
        #expect(await device.exitCode() == 0)
    }

    @Test func aConsoleOutageDoesNotTouchTrafficAndASilentDeviceShowsOffline() async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let directory = try TemporaryDirectory()
        let data = directory.url.appendingPathComponent("console").path
        let consolePort = try freePort()
        var console = try await self.startConsole(data: data, port: consolePort)
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        _ = try await console.request(
            "POST",
            "/api/v1/sites",
            body: self.site(vip: vip, port: port, gateway: gateway.port)
        )
        let join = try #require(
            try await console.json("POST", "/api/v1/sites/lab/join-tokens", body: #"{"device": "lb1"}"#)
                as? [String: Any]
        )
        let device = try HALBProcess(
            [
                "device", "--console", "http://\(console.address)", "--name", "lb1", "--state",
                directory.url.appendingPathComponent("lb1").path, "--admin", "127.0.0.1:0",
            ],
            environment: ["HALB_JOIN_TOKEN": try #require(join["token"] as? String)]
        )
        #expect(
            await eventually(timeout: .seconds(15)) {
                (try? await console.status(of: "lb1"))?["state"] as? String == "OK"
            },
            "\(device.text)"
        )

        // The console dies: the device says it retries, and traffic keeps flowing.
        console.process.signal(SIGKILL)
        _ = await console.process.exitCode()
        #expect(
            await eventually(timeout: .seconds(20)) {
                device.text.contains("Console unreachable; the running configuration keeps serving")
            }
        )
        #expect(try await withTimeout { try await echoRoundTrip(host: vip, port: port) } == "ping")

        // It comes back on the same address and store: the device reconnects, and its status is OK again.
        console = try await self.startConsole(data: data, port: consolePort)
        #expect(
            await eventually(timeout: .seconds(20)) { device.text.contains("Console reachable again") },
            "\(device.text)"
        )
        #expect(
            await eventually(timeout: .seconds(15)) {
                (try? await console.status(of: "lb1"))?["state"] as? String == "OK"
            }
        )

        // A device that goes silent (killed) shows Offline after three missed heartbeats (15 s).
        device.signal(SIGKILL)
        _ = await device.exitCode()
        #expect(
            await eventually(timeout: .seconds(30)) {
                (try? await console.status(of: "lb1"))?["state"] as? String == "Offline"
            }
        )
        console.process.signal(SIGTERM)
    }

    @Test func aDeviceAcceptsConfigurationOnlyFromItsConsoleWithItsCredential() async throws {
        let directory = try TemporaryDirectory()
        // Without enrolment there is nothing to run.
        let unenrolled = try await runHALB([
            "device", "--console", "http://127.0.0.1:9", "--name", "lb1", "--state",
            directory.url.appendingPathComponent("none").path,
        ])
        #expect(unenrolled.status == 1)
        #expect(unenrolled.output.contains("not enrolled"), "\(unenrolled.output)")
        // A bogus join token is refused by the console.
        let console = try await self.startConsole(data: directory.url.appendingPathComponent("console").path)
        defer { console.process.signal(SIGTERM) }
        _ = try await console.request("POST", "/api/v1/sites", body: self.site(vip: "127.0.0.9", port: 9, gateway: 9))
        let bogus = try await runHALB(
            [
                "device", "--console", "http://\(console.address)", "--name", "lb1", "--state",
                directory.url.appendingPathComponent("lb1").path,
            ],
            environment: ["HALB_JOIN_TOKEN": "halb_join_0123.bogus"]
        )
        #expect(bogus.status == 1)
        #expect(bogus.output.contains("the join token is unknown"), "\(bogus.output)")
        // The agent API needs a device credential; a user's token is not one.
        let config = try await httpRequest(
            "GET",
            console.address,
            "/agent/v1/config",
            headers: ["Authorization": "Bearer \(console.token)"]
        )
        #expect(config.hasPrefix("HTTP/1.1 401"), "\(config)")
    }

    @Test func overHTTPSDevicesAndAdminsTrustTheConsoleByItsCAOnly() async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let directory = try TemporaryDirectory()
        let (certificate, key) = try await makeCertificate(in: directory, name: "console")
        let (stranger, strangerKey) = try await makeCertificate(in: directory, name: "stranger")
        let data = directory.url.appendingPathComponent("console").path

        // A key that does not go with the certificate is refused at start, naming both files.
        let mismatched = try await runHALB([
            "console", "--data", data, "--listen", "127.0.0.1:0", "--tls-certificate", certificate, "--tls-key",
            strangerKey,
        ])
        #expect(mismatched.status == 1)
        #expect(
            mismatched.output.contains("--tls-key \(strangerKey) does not go with --tls-certificate \(certificate)"),
            "\(mismatched.output)"
        )

        let password = "https console password"
        let console = try HALBProcess(
            ["console", "--data", data, "--listen", "127.0.0.1:0", "--tls-certificate", certificate, "--tls-key", key],
            environment: ["HALB_ADMIN_PASSWORD": password]
        )
        defer { console.signal(SIGTERM) }
        #expect(await eventually { console.text.contains("Console listening") }, "\(console.text)")
        let address = try #require(console.text.firstMatch(of: /console\.address=(\S+)/)?.1).description
        #expect(console.text.contains("console.scheme=https"))
        // Plain HTTP gets no answer from it.
        let plain = await (try? withTimeout(.seconds(3)) { try await httpGet(address, "/healthz") }) ?? ""
        #expect(!plain.hasPrefix("HTTP/1.1 200"), "\(plain)")

        let config = directory.url.appendingPathComponent("config").path
        func halb(
            _ arguments: [String],
            _ environment: [String: String] = [:]
        ) async throws -> (status: Int32?, output: String) {
            try await runHALB(
                arguments,
                environment: environment.merging(["XDG_CONFIG_HOME": config]) { new, _ in new }
            )
        }
        // An admin who trusts another CA is refused; with the console's CA the login works and is kept.
        let untrusted = try await halb(
            ["login", "--console", "https://\(address)", "--user", "admin", "--ca", stranger],
            ["HALB_PASSWORD": password]
        )
        #expect(untrusted.status == 1 && untrusted.output.contains("cannot reach the console"), "\(untrusted.output)")
        let login = try await halb(
            ["login", "--console", "https://\(address)", "--user", "admin", "--ca", certificate],
            ["HALB_PASSWORD": password]
        )
        #expect(login.status == 0, "\(login.output)")
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        let siteFile = try directory.write("lab.yaml", self.site(vip: vip, port: port, gateway: gateway.port))
        #expect(try await halb(["site", "create", siteFile]).output.contains("Created site lab"))
        let joinToken = try await halb(["join-token", "create", "lb1"]).output.trimmingCharacters(
            in: .whitespacesAndNewlines
        )
        #expect(joinToken.hasPrefix("halb_join_"), "\(joinToken)")

        // A device that trusts another CA does not enrol; with the console's CA it enrols and serves.
        let state = directory.url.appendingPathComponent("lb1").path
        let refused = try await runHALB(
            ["device", "--console", "https://\(address)", "--console-ca", stranger, "--name", "lb1", "--state", state],
            environment: ["HALB_JOIN_TOKEN": joinToken]
        )
        #expect(refused.status == 1, "\(refused.output)")
        let device = try HALBProcess(
            [
                "device", "--console", "https://\(address)", "--console-ca", certificate, "--name", "lb1", "--state",
                state,
                "--admin", "127.0.0.1:0",
            ],
            environment: ["HALB_JOIN_TOKEN": joinToken]
        )
        #expect(
            await eventually(timeout: .seconds(20)) {
                (try? await withTimeout { try await echoRoundTrip(host: vip, port: port) }) == "ping"
            },
            "\(device.text)"
        )
        #expect(
            await eventually(timeout: .seconds(15)) {
                (try? await halb(["status"]))?.output.contains(/lb1 +OK/) == true
            }
        )
        #expect(await eventually { device.text.contains("Admin endpoint listening") })
        device.signal(SIGTERM)
        #expect(await device.exitCode() == 0, "\(device.text)")
    }
}
