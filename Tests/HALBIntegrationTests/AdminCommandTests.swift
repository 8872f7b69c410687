import Foundation
import HALBTestSupport
import NIOCore
import NIOPosix
import Testing

/// The admin commands against a real console: login, tables, JSON, errors with their paths, versions.
@Suite(.timeLimit(.minutes(2))) struct AdminCommandTests {
    private let site = """
        site: lab
        gateways:
          - { name: gw1, address: 192.0.2.21, ports: { gateway: 8080 } }
        devices:
          - { name: lb1, address: 192.0.2.11 }
          - { name: lb2, address: 192.0.2.12 }
        virtualServers:
          - name: web
            vip: { ipv4: 192.0.2.100/24 }
            devices: [lb1, lb2]
            payloads:
              gateway: { port: 80, gateways: [gw1] }

        """

    @Test func anAdminLogsInAndManagesASiteFromTheCommandLine() async throws {
        let directory = try TemporaryDirectory()
        let password = "command line password"
        let console = try HALBProcess(
            ["console", "--data", directory.url.appendingPathComponent("data").path, "--listen", "127.0.0.1:0"],
            environment: ["HALB_ADMIN_PASSWORD": password]
        )
        defer { console.signal(SIGTERM) }
        #expect(await eventually { console.text.contains("Console listening") })
        let address = try #require(console.text.firstMatch(of: /console\.address=(\S+)/)?.1).description
        let config = directory.url.appendingPathComponent("config").path
        let environment = ["XDG_CONFIG_HOME": config, "HALB_CONSOLE": "", "HALB_TOKEN": ""]
            .filter { !$0.value.isEmpty }
        func halb(
            _ arguments: [String],
            _ extra: [String: String] = [:]
        ) async throws -> (status: Int32?, output: String) {
            let process = try HALBProcess(arguments, environment: environment.merging(extra) { _, new in new })
            let status = await process.exitCode()
            try? await Task.sleep(for: .milliseconds(50))
            return (status, process.text)
        }

        // Not logged in: a clear message.
        let anonymous = try await halb(["site", "list"])
        #expect(anonymous.status == 1)
        #expect(anonymous.output.contains("halb login"), "\(anonymous.output)")

        let wrong = try await halb(
            ["login", "--console", "http://\(address)", "--user", "admin"],
            ["HALB_PASSWORD": "nope nope nope"]
        )
        #expect(wrong.status == 1)
        #expect(wrong.output.contains("wrong user name or password"), "\(wrong.output)")
        let login = try await halb(
            ["login", "--console", "http://\(address)", "--user", "admin"],
            ["HALB_PASSWORD": password]
        )
        #expect(login.status == 0, "\(login.output)")
        #expect(login.output.contains("as admin (admin)"))
        let saved = try FileManager.default.attributesOfItem(atPath: config + "/halb/login.json")
        #expect((saved[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let siteFile = try directory.write("site.yaml", self.site)
        #expect(try await halb(["site", "create", siteFile]).output.contains("Created site lab (version 1)."))
        let sites = try await halb(["site", "list"])
        #expect(sites.output.contains("SITE  VERSION") && sites.output.contains("lab   1"), "\(sites.output)")

        // A gateway from a file; the table shows it; JSON for scripts.
        let gateway = try directory.write(
            "gw2.yaml",
            "{ name: gw2, address: 192.0.2.22, ports: { gateway: 8080 }, weight: 3 }"
        )
        let created = try await halb(["gateway", "create", gateway])
        #expect(created.output.contains("Created gateway gw2; site lab is at version 2."), "\(created.output)")
        let table = try await halb(["gateway", "list"])
        #expect(table.output.contains("NAME") && table.output.contains("gw2   192.0.2.22"), "\(table.output)")
        let json = try await halb(["gateway", "list", "--json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
        #expect(parsed?.compactMap { $0["name"] as? String } == ["gw1", "gw2"])

        // A bad update prints every error with its path, and changes nothing.
        let bad = try directory.write("bad.yaml", "{ address: 192.0.2.22, ports: { gateway: 70000 }, weight: 0 }")
        let refused = try await halb(["gateway", "update", "gw2", bad])
        #expect(refused.status == 1)
        #expect(refused.output.contains("gateways[1].ports.gateway: 70000 is not a port"), "\(refused.output)")
        #expect(refused.output.contains("gateways[1].weight"), "\(refused.output)")
        #expect(try await halb(["versions"]).output.contains("2        "))

        // The device list (`halb devices`; `halb device` runs one), status, versions, rollback.
        let devices = try await halb(["devices", "list"])
        #expect(devices.output.contains("lb1   192.0.2.11"), "\(devices.output)")
        let join = try await halb(["join-token", "create", "lb2"])
        #expect(join.output.hasPrefix("halb_join_"), "\(join.output)")
        let status = try await halb(["status"])
        #expect(status.output.contains("lb1     Not verified"), "\(status.output)")
        let rollback = try await halb(["rollback", "1"])
        #expect(rollback.output.contains("as version 3"), "\(rollback.output)")
        let versions = try await halb(["versions"])
        #expect(versions.output.contains("rollback to version 1"), "\(versions.output)")
        #expect(!(try await halb(["gateway", "list"])).output.contains("gw2"))

        // A read-only token for scripts: it reads, and its writes are refused.
        let token = try await halb(["token", "create", "--name", "monitoring", "--read-only"])
        let readOnly = token.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(readOnly.hasPrefix("halb_"), "\(token.output)")
        let viaToken = try await halb(["site", "list", "--console", "http://\(address)"], ["HALB_TOKEN": readOnly])
        #expect(viaToken.output.contains("lab"))
        let forbidden = try await halb(["gateway", "delete", "gw1"], ["HALB_TOKEN": readOnly])
        #expect(forbidden.status == 1)
        #expect(forbidden.output.contains("read-only"), "\(forbidden.output)")

        // Export and import: the whole site as a file, back as a new version; a bad file changes nothing.
        let exported = try await halb(["export"])
        #expect(exported.status == 0 && exported.output.hasPrefix("site: lab"), "\(exported.output)")
        let edited = try directory.write(
            "lab.yaml",
            exported.output.replacingOccurrences(of: "weight: 1", with: "weight: 5")
        )
        #expect(exported.output.contains("weight: 1"), "\(exported.output)")
        let exists = try await halb(["import", edited])
        #expect(exists.status == 1 && exists.output.contains("exists"), "\(exists.output)")
        let imported = try await halb(["import", "--replace", edited])
        #expect(imported.output.contains("Imported site lab as version 4."), "\(imported.output)")
        let reweighted = try await halb(["gateway", "list"])
        #expect(reweighted.output.contains(/gw1 +192.0.2.21 +.*gateway 8080.* 5 +yes/), "\(reweighted.output)")
        let broken = try directory.write(
            "broken.yaml",
            exported.output.replacingOccurrences(of: "192.0.2.21", with: "192.0.2.300")
        )
        let refusedImport = try await halb(["import", "--replace", broken])
        #expect(
            refusedImport.status == 1 && refusedImport.output.contains("gateways[0].address"),
            "\(refusedImport.output)"
        )
        #expect(try await halb(["versions", "--json"]).output.contains(#""version":4"#))

        // Users: an admin creates a read-only user, who changes their own password (with the current one).
        let user = try await halb(["user", "create", "auditor"], ["HALB_NEW_PASSWORD": "auditor password 1"])
        #expect(user.output.contains("Created user auditor (read-only)."), "\(user.output)")
        #expect(try await halb(["user", "list"]).output.contains("auditor  read-only"))
        let auditorConfig = directory.url.appendingPathComponent("auditor").path
        func auditor(
            _ arguments: [String],
            _ extra: [String: String] = [:]
        ) async throws -> (status: Int32?, output: String) {
            try await halb(arguments, extra.merging(["XDG_CONFIG_HOME": auditorConfig]) { old, _ in old })
        }
        #expect(
            try await auditor(
                ["login", "--console", "http://\(address)", "--user", "auditor"],
                ["HALB_PASSWORD": "auditor password 1"]
            ).status == 0
        )
        let wrongCurrent = try await auditor(
            ["user", "password"],
            ["HALB_PASSWORD": "not my password", "HALB_NEW_PASSWORD": "auditor password 2"]
        )
        #expect(
            wrongCurrent.status == 1 && wrongCurrent.output.contains("currentPassword: is not user auditor's password"),
            "\(wrongCurrent.output)"
        )
        let changed = try await auditor(
            ["user", "password"],
            ["HALB_PASSWORD": "auditor password 1", "HALB_NEW_PASSWORD": "auditor password 2"]
        )
        #expect(changed.output.contains("Changed the password of auditor."), "\(changed.output)")
        #expect(
            try await auditor(
                ["login", "--console", "http://\(address)", "--user", "auditor"],
                ["HALB_PASSWORD": "auditor password 1"]
            ).status == 1
        )
        #expect(
            try await auditor(
                ["login", "--console", "http://\(address)", "--user", "auditor"],
                ["HALB_PASSWORD": "auditor password 2"]
            ).status == 0
        )

        // An edit made from `show` carries the site version it was read at: another admin's change in between is
        // not overwritten (412), and the edit redone from a fresh `show` applies.
        let shown = try await halb(["gateway", "show", "gw1"])
        #expect(shown.output.hasPrefix(#"{"siteVersion":4,"name":"gw1","#), "\(shown.output)")
        let meanwhile = try directory.write(
            "gw1-weight.yaml",
            "{ address: 192.0.2.21, ports: { gateway: 8080 }, weight: 7 }"
        )
        #expect(try await halb(["gateway", "update", "gw1", meanwhile]).output.contains("site lab is at version 5"))
        let edit = try directory.write(
            "gw1-edit.json",
            shown.output.replacingOccurrences(of: "192.0.2.21", with: "192.0.2.23")
        )
        let stale = try await halb(["gateway", "update", "gw1", edit])
        #expect(stale.status == 1, "\(stale.output)")
        #expect(
            stale.output.contains("the change is based on version 4, but the site is at version 5 now"),
            "\(stale.output)"
        )
        #expect(try await halb(["gateway", "list"]).output.contains(/gw1 +192.0.2.21 +.* 7 +yes/))
        let fresh = try await halb(["gateway", "show", "gw1"])
        let redone = try directory.write(
            "gw1-redone.json",
            fresh.output.replacingOccurrences(of: "192.0.2.21", with: "192.0.2.23")
        )
        #expect(try await halb(["gateway", "update", "gw1", redone]).output.contains("site lab is at version 6"))
        #expect(try await halb(["gateway", "list"]).output.contains(/gw1 +192.0.2.23 +.* 7 +yes/))
        // A new item made from another's `show` is based on the version that show printed, as an update is.
        let copy = try directory.write(
            "gw9.json",
            fresh.output.replacingOccurrences(of: #""name":"gw1""#, with: #""name":"gw9""#)
        )
        let staleCreate = try await halb(["gateway", "create", copy])
        #expect(
            staleCreate.output.contains("based on version 5, but the site is at version 6"),
            "\(staleCreate.output)"
        )
        // A siteVersion that is not a version is refused before anything is sent.
        let nonsense = try directory.write(
            "gw1-nonsense.yaml",
            "{ siteVersion: seven, address: 192.0.2.24, ports: { gateway: 8080 } }"
        )
        let refusedVersion = try await halb(["gateway", "update", "gw1", nonsense])
        #expect(
            refusedVersion.status == 1
                && refusedVersion.output.contains(#"siteVersion: "seven" is not a site version such as 7"#),
            "\(refusedVersion.output)"
        )
    }
}

/// How the admin commands reach the console: where the login is kept, and how an unreachable console fails.
@Suite(.timeLimit(.minutes(2))) struct ConsoleConnectionTests {
    /// A loopback port nothing listens on.
    private func closedPort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0)
            .wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        return port
    }

    /// A saved login (as `halb login` writes it) for the console at `console`, under `directory`/halb.
    private func saveLogin(console: String, in directory: URL) throws {
        let folder = directory.appendingPathComponent("halb")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(#"{"console": "\#(console)", "token": "saved-token"}"#.utf8).write(
            to: folder.appendingPathComponent("login.json")
        )
    }

    @Test func aRefusedConnectionFailsAtOnceAndSaysSo() async throws {
        let port = try self.closedPort()
        let started = ContinuousClock.now
        let process = try HALBProcess(
            ["status"],
            environment: ["HALB_CONSOLE": "http://127.0.0.1:\(port)", "HALB_TOKEN": "x"]
        )
        // Well before the request timeout (30 s): a refusal is not retried.
        let status = await process.exitCode(timeout: .seconds(10))
        try? await Task.sleep(for: .milliseconds(50))
        #expect(status == 1, "\(ContinuousClock.now - started): \(process.text)")
        #expect(
            process.text == "halb: cannot reach the console at http://127.0.0.1:\(port): connection refused\n",
            "\(process.text)"
        )
    }

    @Test(.enabled(if: NetworkLab.isAvailable && FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")))
    func aSilentConsoleFailsWithinTheConnectTimeout() async throws {
        // A namespace whose loopback drops connections to port 8440 without an answer, as a firewall does.
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        try lab.addHost("cli", address: "192.0.2.5/24")
        try lab.run("cli", ["/usr/sbin/nft", "add table inet halbtest"])
        try lab.run("cli", ["/usr/sbin/nft", "add chain inet halbtest input { type filter hook input priority 0 ; }"])
        try lab.run("cli", ["/usr/sbin/nft", "add rule inet halbtest input tcp dport 8440 drop"])
        let started = ContinuousClock.now
        let halb = try lab.spawn(
            "cli",
            ["/usr/bin/env", "HALB_CONSOLE=http://127.0.0.1:8440", "HALB_TOKEN=x", try halbExecutable().path, "status"]
        )
        // The connect timeout (5 s) ends it, well before the request timeout (30 s).
        let status = await halb.exitCode(timeout: .seconds(20))
        try? await Task.sleep(for: .milliseconds(50))
        #expect(status == 1, "\(ContinuousClock.now - started): \(halb.text)")
        #expect(
            halb.text.contains(
                "cannot reach the console at http://127.0.0.1:8440: no answer within 5 s (connect timeout)"
            ),
            "\(halb.text)"
        )
    }

    @Test func theLoginIsReadFromXDGConfigHomeThenHome() async throws {
        let directory = try TemporaryDirectory()
        let home = directory.url.appendingPathComponent("home")
        let xdg = directory.url.appendingPathComponent("xdg")
        let homePort = try self.closedPort()
        let xdgPort = try self.closedPort()
        try self.saveLogin(console: "http://127.0.0.1:\(homePort)", in: home.appendingPathComponent(".config"))
        try self.saveLogin(console: "http://127.0.0.1:\(xdgPort)", in: xdg)
        // An empty variable counts as unset.
        let unset = ["HALB_CONSOLE": "", "HALB_TOKEN": "", "HALB_CONSOLE_CA": ""]
        // HOME, not the account's home directory from the password database.
        let fromHome = try await runHALB(
            ["status"],
            environment: unset.merging(["HOME": home.path, "XDG_CONFIG_HOME": ""]) { $1 }
        )
        #expect(fromHome.output.contains("at http://127.0.0.1:\(homePort):"), "\(fromHome.output)")
        // XDG_CONFIG_HOME over HOME.
        let fromXDG = try await runHALB(
            ["status"],
            environment: unset.merging(["HOME": home.path, "XDG_CONFIG_HOME": xdg.path]) { $1 }
        )
        #expect(fromXDG.output.contains("at http://127.0.0.1:\(xdgPort):"), "\(fromXDG.output)")
        // A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
        let relative = try await runHALB(
            ["status"],
            environment: unset.merging(["HOME": home.path, "XDG_CONFIG_HOME": "xdg"]) { $1 }
        )
        #expect(relative.output.contains("at http://127.0.0.1:\(homePort):"), "\(relative.output)")
    }
}
