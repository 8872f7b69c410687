import Foundation
import HALBClient
import HALBConsole
import HALBCore
import HALBWire
import Hummingbird
import HummingbirdTesting
import NIOHTTP1
import Testing

/// The admin commands' client against a real console in this process (the REST API on a loopback port).
@Suite(.timeLimit(.minutes(2))) struct ConsoleClientTests {
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

    private func withConsole(
        _ body: @Sendable (_ url: String, _ admin: String, _ reader: String) async throws -> Void
    )
        async throws
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-client-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ConsoleStore(directory: directory)
        _ = try await store.createSite(try ConfigNode.parse(yaml: self.site), actor: "test")
        _ = try await store.createFirstAdmin(password: "correct horse battery")
        let creator = Identity(user: "admin", role: .admin, tokenID: "", kind: .session)
        let admin = try await store.createToken(by: creator, name: "test", role: .admin).token
        let reader = try await store.createToken(by: creator, name: "reader", role: .readOnly).token
        let app = Application(
            router: ConsoleAPI.router(store: store),
            configuration: .init(address: .hostname("127.0.0.1", port: 0))
        )
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))", admin, reader)
        }
    }

    private func failure(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func answersAreTypedAndAChangeCarriesTheVersionItIsBasedOn() async throws {
        try await self.withConsole { url, admin, _ in
            let client = ConsoleClient(login: ConsoleLogin(console: url + "/", token: admin))
            let sites = try await client.send(.GET, "/api/v1/sites").decode([SiteSummary].self)
            #expect(sites.map(\.name) == ["lab"])
            let shown = try await client.send(.GET, "/api/v1/sites/lab")
            #expect(shown.etag == 1)
            let changed = try await client.change(
                .PUT,
                "/api/v1/sites/lab/gateways/gw1",
                of: "lab",
                body: #"{"name": "gw1", "address": "192.0.2.22", "ports": {"gateway": 8080}}"#
            )
            #expect(changed.status == 200)
            #expect(try await client.send(.GET, "/api/v1/sites/lab").etag == 2)
            // A change based on the version shown before is refused: someone changed the site in between.
            let crossing = await self.failure {
                _ = try await client.send(.DELETE, "/api/v1/sites/lab/gateways/gw1", ifMatch: 1)
            }
            #expect(crossing != nil)
            #expect(try await client.send(.GET, "/api/v1/sites/lab").etag == 2)
        }
    }

    @Test func aRefusedChangeListsEveryIssueByPath() async throws {
        try await self.withConsole { url, admin, _ in
            let client = ConsoleClient(login: ConsoleLogin(console: url, token: admin))
            let refused = await self.failure {
                _ = try await client.change(
                    .PUT,
                    "/api/v1/sites/lab/gateways/gw1",
                    of: "lab",
                    body: #"{"name": "gw1", "address": "192.0.2.22", "ports": {"gateway": 70000}}"#
                )
            }
            #expect(refused?.hasPrefix("the change was refused; nothing was stored:\n  ") == true, "\(refused ?? "")")
            #expect(refused?.contains("70000") == true, "\(refused ?? "")")
        }
    }

    @Test func whoMayNotOrCannotIsToldWhatToDo() async throws {
        try await self.withConsole { url, _, reader in
            let stranger = ConsoleClient(login: ConsoleLogin(console: url, token: "not-a-token"))
            let denied = await self.failure { _ = try await stranger.send(.GET, "/api/v1/sites") }
            #expect(denied?.hasSuffix("(log in again: halb login)") == true, "\(denied ?? "")")
            let readOnly = ConsoleClient(login: ConsoleLogin(console: url, token: reader))
            let forbidden = await self.failure { _ = try await readOnly.send(.DELETE, "/api/v1/sites/lab") }
            #expect(forbidden != nil && forbidden?.contains("log in again") == false, "\(forbidden ?? "")")
            let unknown = await self.failure { _ = try await readOnly.send(.GET, "/api/v1/nothing-here") }
            #expect(unknown != nil && unknown?.contains("{") == false, "\(unknown ?? "")")
        }
    }

    @Test func aClosedPortFailsAtOnceWithTheReason() async throws {
        // Port 1 on loopback: nothing listens there.
        let client = ConsoleClient(login: ConsoleLogin(console: "http://127.0.0.1:1", token: "t"))
        let refused = await self.failure { _ = try await client.send(.GET, "/api/v1/sites") }
        #expect(refused == "cannot reach the console at http://127.0.0.1:1: connection refused", "\(refused ?? "")")
    }

    @Test func theLoginFileFollowsXDGAndHome() {
        #expect(
            ConsoleLogin.file(environment: ["XDG_CONFIG_HOME": "/etc/x", "HOME": "/home/a"]).path
                == "/etc/x/halb/login.json"
        )
        // A relative XDG_CONFIG_HOME is ignored, as the specification says.
        #expect(
            ConsoleLogin.file(environment: ["XDG_CONFIG_HOME": "x", "HOME": "/home/a"]).path
                == "/home/a/.config/halb/login.json"
        )
    }

    @Test func tablesAlignEveryColumnButTheLast() {
        let table = Table.render(["SITE", "VERSION"], [["lab", "12"], ["a-long-name", "3"]])
        #expect(table == "SITE         VERSION\nlab          12\na-long-name  3\n")
    }
}
