import Foundation
import HALBConsole
import HALBCore
import HALBWire
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A site the tests start from: two gateways, two devices, one virtual server.
let sampleSite = """
    site: lab
    gateways:
      - { name: gw1, address: 192.0.2.21, ports: { gateway: 8080 } }
      - { name: gw2, address: 192.0.2.22, ports: { gateway: 8080 } }
    devices:
      - { name: lb1, address: 192.0.2.11, interface: eth0 }
      - { name: lb2, address: 192.0.2.12, interface: eth0 }
    virtualServers:
      - name: web
        vip: { ipv4: 192.0.2.100/24 }
        devices: [lb1, lb2]
        payloads:
          gateway: { port: 80, gateways: [gw1, gw2] }

    """

/// Device `device` of site `lab` in `store`, enrolled with a new join token.
func enrolled(_ device: String, in store: ConsoleStore) async throws -> EnrolledAgent {
    let enrolment = try await store.enrol(
        joinToken: try await store.createJoinToken(site: "lab", device: device, actor: "test").token,
        device: device
    )
    return try #require(try await store.agent(forCredential: enrolment.credential))
}

/// The API as a client sees it, in process, against a real SQLite file.
@Suite(.timeLimit(.minutes(2))) struct ConsoleAPITests {
    /// Runs `body` with the app of a fresh store holding the admin (password `correct horse battery`) and a
    /// read-only user `viewer`, and their tokens.
    private func withConsole(
        _ body:
            @Sendable (any TestClientProtocol, _ admin: String, _ viewer: String, _ store: ConsoleStore) async throws ->
            Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-console-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ConsoleStore(directory: directory)
        #expect(try await store.createFirstAdmin(password: "correct horse battery") == nil)
        _ = try await store.createUser("viewer", password: "viewer password 1", role: .readOnly, actor: "test")
        let app = Application(router: ConsoleAPI.router(store: store))
        try await app.test(.router) { client in
            let admin = try await self.logIn(client, "admin", "correct horse battery")
            let viewer = try await self.logIn(client, "viewer", "viewer password 1")
            try await body(client, admin, viewer, store)
        }
    }

    private func logIn(_ client: any TestClientProtocol, _ user: String, _ password: String) async throws -> String {
        try await client.execute(
            uri: "/api/v1/login",
            method: .post,
            body: ByteBuffer(string: #"{"user": "\#(user)", "password": "\#(password)"}"#)
        ) { response in
            #expect(response.status == .created)
            let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            return try #require(object?["token"] as? String)
        }
    }

    private func headers(_ token: String, ifMatch version: Int? = nil) -> HTTPFields {
        var fields: HTTPFields = [.authorization: "Bearer \(token)"]
        if let version { fields[.ifMatch] = "\"\(version)\"" }
        return fields
    }

    private func json(_ response: TestResponse) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
    }

    @Test func everyEndpointButHealthAndLoginNeedsAToken() async throws {
        try await self.withConsole { client, _, _, _ in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            for (uri, method) in [
                ("/api/v1/sites", HTTPRequest.Method.get), ("/api/v1/sites", .post), ("/api/v1/sites/lab", .get),
                ("/api/v1/sites/lab/gateways", .get), ("/api/v1/audit", .get), ("/api/v1/users", .get),
                ("/api/v1/tokens", .post), ("/api/v1/whoami", .get),
            ] {
                try await client.execute(uri: uri, method: method) { response in
                    #expect(response.status == .unauthorized, "\(method) \(uri)")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"halb\"")
                }
            }
            try await client.execute(
                uri: "/api/v1/sites",
                method: .get,
                headers: [.authorization: "Bearer halb_0011.bogus"]
            ) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/api/v1/login",
                method: .post,
                body: ByteBuffer(string: #"{"user": "admin", "password": "Tr0ub4dor&3"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(!String(buffer: response.body).contains("Tr0ub4dor"))
            }
        }
    }

    @Test func aSiteIsCreatedReadAndChangedItemByItemWithVersions() async throws {
        try await self.withConsole { client, admin, _, _ in
            try await client.execute(
                uri: "/api/v1/sites",
                method: .post,
                headers: self.headers(admin),
                body: ByteBuffer(string: sampleSite)
            ) {
                #expect($0.status == .created)
                #expect($0.headers[.eTag] == "\"1\"")
            }
            for list in ["gateways", "devices", "virtual-servers"] {
                try await client.execute(uri: "/api/v1/sites/lab/\(list)", method: .get, headers: self.headers(admin)) {
                    response in
                    #expect(response.status == .ok, "\(list)")
                    let items = try self.json(response) as? [[String: Any]]
                    #expect(items?.count == (list == "virtual-servers" ? 1 : 2), "\(list)")
                }
            }
            try await client.execute(uri: "/api/v1/sites/lab/devices/lb2", method: .get, headers: self.headers(admin)) {
                #expect($0.status == .ok)
            }
            // Every setting, defaults included, with the YAML's names.
            try await client.execute(
                uri: "/api/v1/sites/lab/virtual-servers/web",
                method: .get,
                headers: self.headers(admin)
            ) { response in
                #expect(response.status == .ok)
                let web = try #require(try self.json(response) as? [String: Any])
                #expect((web["vrrp"] as? [String: Any])?["advertInterval"] as? String == "100ms")
                #expect(web["devices"] != nil && web["healthCheck"] != nil)
            }
            // Add a gateway, based on version 1.
            try await client.execute(
                uri: "/api/v1/sites/lab/gateways",
                method: .post,
                headers: self.headers(admin, ifMatch: 1),
                body: ByteBuffer(string: #"{"name": "gw3", "address": "192.0.2.23", "ports": {"gateway": 8080}}"#)
            ) { response in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                #expect(response.headers[.eTag] == "\"2\"")
                let created = try self.json(response) as? [String: Any]
                #expect(created?["weight"] as? Int == 1)  // defaults filled in
            }
            // A change based on version 1 again is stale: 412 (the If-Match precondition failed), nothing stored.
            try await client.execute(
                uri: "/api/v1/sites/lab/gateways/gw1",
                method: .put,
                headers: self.headers(admin, ifMatch: 1),
                body: ByteBuffer(string: #"{"address": "192.0.2.99"}"#)
            ) { response in
                #expect(response.status == .preconditionFailed)
                #expect(String(buffer: response.body).contains("based on version 1, but the site is at version 2"))
            }
            // Without If-Match: 428.
            try await client.execute(
                uri: "/api/v1/sites/lab/gateways/gw1",
                method: .delete,
                headers: self.headers(admin)
            ) {
                #expect($0.status == .preconditionRequired)
            }
            // Deleting a gateway still in use is invalid: 422 with the path, nothing stored.
            try await client.execute(
                uri: "/api/v1/sites/lab/gateways/gw1",
                method: .delete,
                headers: self.headers(admin, ifMatch: 2)
            ) { response in
                #expect(response.status == .unprocessableContent)
                let body = try #require(try self.json(response) as? [String: Any])
                let issues = try #require(body["issues"] as? [[String: String]])
                #expect(issues.first?["path"] == "virtualServers[0].payloads.gateway.gateways[0]", "\(issues)")
            }
            try await client.execute(uri: "/api/v1/sites/lab", method: .get, headers: self.headers(admin)) {
                #expect($0.headers[.eTag] == "\"2\"")
            }
            // Versions, and a rollback to 1 as version 3.
            try await client.execute(uri: "/api/v1/sites/lab/versions", method: .get, headers: self.headers(admin)) {
                response in
                let versions = try #require(try self.json(response) as? [[String: Any]])
                #expect(versions.compactMap { $0["version"] as? Int } == [2, 1])
                #expect(versions.first?["change"] as? String == "create gateway gw3")
                #expect(versions.first?["author"] as? String == "admin")
            }
            try await client.execute(
                uri: "/api/v1/sites/lab/versions/1/rollback",
                method: .post,
                headers: self.headers(admin, ifMatch: 2)
            ) {
                #expect($0.status == .ok)
                #expect($0.headers[.eTag] == "\"3\"")
            }
            try await client.execute(uri: "/api/v1/sites/lab/gateways/gw3", method: .get, headers: self.headers(admin))
            {
                #expect($0.status == .notFound)
            }
            // The audit log says who did what.
            try await client.execute(uri: "/api/v1/audit?site=lab", method: .get, headers: self.headers(admin)) {
                response in
                let entries = try #require(try self.json(response) as? [[String: Any]])
                #expect(
                    entries.compactMap { $0["target"] as? String } == [
                        "rollback to version 1", "create gateway gw3", "site lab",
                    ]
                )
                #expect(entries.first?["detail"] as? String == "gateways: removed gw3")
                #expect(entries.allSatisfy { $0["actor"] as? String == "admin" })
            }
            // Filtered by who, what and when (the page's filters).
            func targets(_ query: String) async throws -> [String] {
                try await client.execute(uri: "/api/v1/audit?\(query)", method: .get, headers: self.headers(admin)) {
                    response in
                    #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
                    let entries = try self.json(response) as? [[String: Any]] ?? []
                    return entries.compactMap { $0["target"] as? String }
                }
            }
            #expect(try await targets("site=lab&action=update") == ["rollback to version 1", "create gateway gw3"])
            #expect(try await targets("site=lab&action=create") == ["site lab"])
            #expect(try await targets("site=lab&actor=viewer").isEmpty)
            #expect(try await targets("site=lab&since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z").count == 3)
            #expect(try await targets("site=lab&since=2999-01-01T00:00:00Z").isEmpty)
            #expect(try await targets("site=lab&until=2000-01-01T00:00:00.000Z").isEmpty)
            for bad in ["since=yesterday", "until=2026-13-01T00:00:00Z", "limit=0", "limit=1001"] {
                try await client.execute(uri: "/api/v1/audit?\(bad)", method: .get, headers: self.headers(admin)) {
                    #expect($0.status == .unprocessableContent, "\(bad)")
                }
            }
        }
    }

    @Test func badBodiesGetEveryErrorWithItsPathAndChangeNothing() async throws {
        try await self.withConsole { client, admin, _, store in
            try await client.execute(
                uri: "/api/v1/sites",
                method: .post,
                headers: self.headers(admin),
                body: ByteBuffer(string: sampleSite)
            ) {
                #expect($0.status == .created)
            }
            let bad = #"{"name": "gw9", "address": "", "ports": {"gateway": 70000}, "weight": "heavy"}"#
            try await client.execute(
                uri: "/api/v1/sites/lab/gateways",
                method: .post,
                headers: self.headers(admin, ifMatch: 1),
                body: ByteBuffer(string: bad)
            ) { response in
                #expect(response.status == .unprocessableContent)
                let body = try #require(try self.json(response) as? [String: Any])
                let paths = (body["issues"] as? [[String: String]] ?? []).compactMap { $0["path"] }
                #expect(paths.contains("gateways[2].ports.gateway"), "\(paths)")
                #expect(paths.contains("gateways[2].weight"), "\(paths)")
                #expect(paths.contains("gateways[2].address"), "\(paths)")
            }
            for body in ["{not json", "[1, 2]", "\"text\""] {
                try await client.execute(
                    uri: "/api/v1/sites/lab/gateways",
                    method: .post,
                    headers: self.headers(admin, ifMatch: 1),
                    body: ByteBuffer(string: body)
                ) {
                    #expect($0.status == .badRequest || $0.status == .unprocessableContent, "\(body)")
                }
            }
            try await client.execute(
                uri: "/api/v1/sites/lab/gateways",
                method: .post,
                headers: self.headers(admin, ifMatch: 1),
                body: ByteBuffer(repeating: 0x20, count: 2 << 20)
            ) {
                #expect($0.status == .badRequest || $0.status == .contentTooLarge)
            }
            try await client.execute(uri: "/api/v1/sites/lab/nonsense", method: .get, headers: self.headers(admin)) {
                #expect($0.status == .notFound)
            }
            #expect(try await store.site("lab").version == 1)
            #expect(try await store.versions(of: "lab").count == 1)
        }
    }

    @Test func aReadOnlyUserReadsButCannotWrite() async throws {
        try await self.withConsole { client, admin, viewer, _ in
            try await client.execute(
                uri: "/api/v1/sites",
                method: .post,
                headers: self.headers(admin),
                body: ByteBuffer(string: sampleSite)
            ) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/api/v1/sites/lab/gateways", method: .get, headers: self.headers(viewer)) {
                #expect($0.status == .ok)
            }
            try await client.execute(
                uri: "/api/v1/sites/lab/gateways/gw2",
                method: .delete,
                headers: self.headers(viewer, ifMatch: 1)
            ) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/api/v1/users", method: .get, headers: self.headers(viewer)) {
                #expect($0.status == .forbidden)
            }
            // A read-only user may make a read-only token for scripts, not an admin one.
            try await client.execute(
                uri: "/api/v1/tokens",
                method: .post,
                headers: self.headers(viewer),
                body: ByteBuffer(string: #"{"name": "ci", "role": "admin"}"#)
            ) {
                #expect($0.status == .forbidden)
            }
        }
    }

    @Test func passwordsChangeWithTheCurrentOneAndOtherSessionsEnd() async throws {
        try await self.withConsole { client, admin, viewer, store in
            func change(_ user: String, as token: String, _ body: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/users/\(user)/password",
                    method: .put,
                    headers: self.headers(token),
                    body: ByteBuffer(string: body)
                ) { $0 }
            }
            let otherSession = try await self.logIn(client, "viewer", "viewer password 1")
            // Your own password needs the current one: a session token alone does not do.
            var response = try await change("viewer", as: viewer, #"{"password": "a new viewer password"}"#)
            #expect(response.status == .unprocessableContent)
            #expect(String(buffer: response.body).contains("currentPassword"))
            response = try await change(
                "viewer",
                as: viewer,
                #"{"password": "a new viewer password", "currentPassword": "not it at all"}"#
            )
            #expect(response.status == .unprocessableContent)
            #expect(String(buffer: response.body).contains("is not user viewer's password"))
            response = try await change(
                "viewer",
                as: viewer,
                #"{"password": "short", "currentPassword": "viewer password 1"}"#
            )
            #expect(response.status == .unprocessableContent)
            // Refused changes changed nothing.
            #expect(try await self.logIn(client, "viewer", "viewer password 1").hasPrefix("halb_"))
            // A read-only user cannot set someone else's.
            response = try await change("admin", as: viewer, #"{"password": "the viewer's admin password"}"#)
            #expect(response.status == .forbidden)

            response = try await change(
                "viewer",
                as: viewer,
                #"{"password": "a new viewer password", "currentPassword": "viewer password 1"}"#
            )
            #expect(response.status == .noContent)
            // The caller's session goes on, the other sessions end; the old password is gone.
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: self.headers(viewer)) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: self.headers(otherSession)) {
                #expect($0.status == .unauthorized)
            }
            await #expect(throws: ConsoleError.self) { try await store.logIn("viewer", password: "viewer password 1") }
            #expect(try await self.logIn(client, "viewer", "a new viewer password").hasPrefix("halb_"))

            // An admin sets another user's password without knowing it; the audit log says so, without it.
            response = try await change("viewer", as: admin, #"{"password": "set by the admin 1"}"#)
            #expect(response.status == .noContent)
            #expect(try await self.logIn(client, "viewer", "set by the admin 1").hasPrefix("halb_"))
            response = try await change("nobody", as: admin, #"{"password": "set by the admin 1"}"#)
            #expect(response.status == .notFound)
            let audit = try await store.audit().filter { $0.target == "user viewer" && $0.action == "change" }
            #expect(audit.map(\.actor) == ["admin", "viewer"])
            #expect(!audit.contains { $0.detail.contains("set by the admin") })
        }
    }

    @Test func apiTokensWorkUntilRevokedAndSecretsNeverComeBack() async throws {
        try await self.withConsole { client, admin, _, store in
            let (token, id) = try await client.execute(
                uri: "/api/v1/tokens",
                method: .post,
                headers: self.headers(admin),
                body: ByteBuffer(string: #"{"name": "deploy script", "role": "read-only"}"#)
            ) { response in
                #expect(response.status == .created)
                let body = try #require(try self.json(response) as? [String: Any])
                let info = try #require(body["info"] as? [String: Any])
                return (try #require(body["token"] as? String), try #require(info["id"] as? String))
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: self.headers(token)) { response in
                let body = try #require(try self.json(response) as? [String: Any])
                #expect(body["role"] as? String == "read-only")
            }
            try await client.execute(uri: "/api/v1/tokens", method: .get, headers: self.headers(admin)) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("deploy script"))
                #expect(!text.contains(String(token.split(separator: ".")[1])))
            }
            try await client.execute(uri: "/api/v1/users", method: .get, headers: self.headers(admin)) { response in
                #expect(!String(buffer: response.body).contains("$2"))  // no bcrypt hash
            }
            try await client.execute(uri: "/api/v1/tokens/\(id)", method: .delete, headers: self.headers(admin)) {
                #expect($0.status == .noContent)
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: self.headers(token)) {
                #expect($0.status == .unauthorized)
            }
            #expect(try await store.identity(forToken: token) == nil)
        }
    }

    @Test func namesThatReadAsNumbersOrBooleansAreStringsInTheAnswersAndTheExport() async throws {
        // Quoted or not in the YAML sent, a name is text: JSON clients must get strings, never 2026, true or 1000.
        let site = """
            site: "2026"
            gateways:
              - { name: "1e3", address: 192.0.2.21 }
              - { name: "true", address: 192.0.2.22 }
            devices:
              - { name: 12, address: 192.0.2.11 }
            virtualServers:
              - name: "false"
                vip: { ipv4: 192.0.2.100/24 }
                devices: [12]
                payloads:
                  gateway: { port: 80, gateways: ["1e3", "true"] }

            """
        try await self.withConsole { client, admin, _, _ in
            try await client.execute(
                uri: "/api/v1/sites",
                method: .post,
                headers: self.headers(admin),
                body: ByteBuffer(string: site)
            ) { response in
                #expect(response.status == .created)
                let document = try #require(try self.json(response) as? [String: Any])
                #expect(document["site"] as? String == "2026")
                let gateways = try #require(document["gateways"] as? [[String: Any]])
                #expect(gateways.map { $0["name"] as? String } == ["1e3", "true"])
                #expect(gateways.map { $0["weight"] is String } == [false, false])
            }
            try await client.execute(uri: "/api/v1/sites/2026/devices/12", method: .get, headers: self.headers(admin)) {
                response in
                #expect(response.status == .ok)
                let device = try self.json(response) as? [String: Any]
                #expect(device?["name"] as? String == "12")
            }
            try await client.execute(
                uri: "/api/v1/sites/2026/virtual-servers/false",
                method: .get,
                headers: self.headers(admin)
            ) { response in
                #expect(response.status == .ok)
                let vs = try #require(try self.json(response) as? [String: Any])
                #expect(vs["name"] as? String == "false")
                #expect(vs["enabled"] as? Bool == true)
                #expect(vs["devices"] as? [String] == ["12"])
                let payloads = try #require(vs["payloads"] as? [String: Any])
                #expect((payloads["gateway"] as? [String: Any])?["gateways"] as? [String] == ["1e3", "true"])
            }
            try await client.execute(uri: "/api/v1/sites/2026/export", method: .get, headers: self.headers(admin)) {
                response in
                #expect(response.status == .ok)
                let yaml = String(buffer: response.body)
                #expect(yaml.contains(#"name: "1e3""#), "\(yaml)")
                // Read as JSON-minded YAML would read it (a plain 1e3 is a number there): every name quoted.
                let exported = try SiteReader.load(yaml: yaml)
                #expect(exported.name == "2026")
                #expect(exported.gateways.map(\.name) == ["1e3", "true"])
                #expect(exported.virtualServers.map(\.name) == ["false"])
                guard case .mapping(let entries) = try ConfigNode.parse(yaml: yaml),
                    case .sequence(let gateways) = entries.first(where: { $0.key == "gateways" })?.value
                else {
                    Issue.record("the export is not a site: \(yaml)")
                    return
                }
                for gateway in gateways {
                    guard case .mapping(let fields) = gateway,
                        case .scalar(_, let quoted) = fields.first(where: { $0.key == "name" })?.value
                    else {
                        Issue.record("a gateway without a name: \(yaml)")
                        continue
                    }
                    #expect(quoted)
                }
            }
        }
    }
}

@Suite struct ConsoleStoreTests {
    @Test func theFirstAdminGetsAGeneratedPasswordOnlyOnce() async throws {
        let store = try ConsoleStore.inMemory()
        let password = try #require(try await store.createFirstAdmin(password: nil))
        #expect(password.count == 20)
        #expect(try await store.createFirstAdmin(password: nil) == nil)
        #expect(try await store.logIn("admin", password: password).info.role == .admin)
        await #expect(throws: ConsoleError.self) { try await store.logIn("admin", password: password + "x") }
        await #expect(throws: ConsoleError.self) { try await store.logIn("nobody", password: password) }
    }

    @Test func anImportedSiteExportsAsTheSameSite() async throws {
        let store = try ConsoleStore.inMemory()
        let created = try await store.createSite(try ConfigNode.parse(yaml: sampleSite), actor: "test")
        var expected = try SiteReader.load(yaml: sampleSite)
        expected.version = 1
        #expect(created.site == expected)
        #expect(try SiteReader.load(yaml: SiteWriter.yaml(try await store.site("lab").site)) == expected)
        await #expect(throws: ConsoleError.conflict("site lab exists already")) {
            try await store.createSite(try ConfigNode.parse(yaml: sampleSite), actor: "test")
        }
    }

    @Test func aStoreReadsTheSiteAnotherStoreDeletedCreatedAgainAndChanged() async throws {
        // Two consoles on one database: each keeps the sites it read parsed, and must never answer a stale one.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-console-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ConsoleStore(directory: directory)
        let second = try ConsoleStore(directory: directory)
        _ = try await first.createSite(try ConfigNode.parse(yaml: sampleSite), actor: "test")
        #expect(try await second.site("lab").site.gateways.map(\.name) == ["gw1", "gw2"])
        // Deleted and created again: version 1 anew, with other content.
        try await first.deleteSite("lab", basedOn: 1, actor: "test")
        let renamed = sampleSite.replacingOccurrences(of: "gw2", with: "gw9")
        _ = try await first.createSite(try ConfigNode.parse(yaml: renamed), actor: "test")
        let again = try await second.site("lab")
        #expect(again.version == 1)
        #expect(again.site.gateways.map(\.name) == ["gw1", "gw9"])
        #expect(again.yaml.contains("name: gw9"))
        #expect(try await first.site("lab").yaml == again.yaml)
        // Changed: the new version, and the old one in the history.
        let withoutGW9 = try ConfigNode.parse(yaml: renamed.replacingOccurrences(of: ", gw9]", with: "]"))
        _ = try await first.changeSite("lab", basedOn: 1, actor: "test", change: "drop gw9") { _ in withoutGW9 }
        #expect(try await second.site("lab").version == 2)
        #expect(try await second.site("lab").site.virtualServers[0].payloads[0].gateways == ["gw1"])
        #expect(try await second.site("lab", version: 1).site.virtualServers[0].payloads[0].gateways == ["gw1", "gw9"])
    }

    @Test func aDeviceGetsItsPartOfTheSiteAsACanonicalFileTheSameForEachAnswerOfAVersion() async throws {
        let store = try ConsoleStore.inMemory()
        let site =
            sampleSite.trimmingCharacters(in: .newlines) + """

                  - name: "2026"
                    vip: { ipv4: 192.0.2.101/24 }
                    devices: [lb2]
                    payloads:
                      gateway: { port: 80, gateways: [gw1] }

                """
        _ = try await store.createSite(try ConfigNode.parse(yaml: site), actor: "test")
        let lb1 = try await enrolled("lb1", in: store)
        let lb2 = try await enrolled("lb2", in: store)
        let first = try await store.configuration(for: lb2)
        #expect(first.version == 1)
        #expect(try SiteReader.load(yaml: first.site).virtualServers.map(\.name) == ["web", "2026"])
        #expect(first.site.contains(#"name: "2026""#), "\(first.site)")
        #expect(SiteWriter.yaml(try SiteReader.load(yaml: first.site)) == first.site)
        #expect(try await store.configuration(for: lb2).site == first.site)
        #expect(
            try SiteReader.load(yaml: try await store.configuration(for: lb1).site).virtualServers.map(\.name) == [
                "web"
            ]
        )
        #expect(try await store.configuration(for: lb2, after: 1, timeout: .milliseconds(10)) == nil)
        // A new version, a new file.
        let withoutIt = try ConfigNode.parse(yaml: sampleSite)
        _ = try await store.changeSite("lab", basedOn: 1, actor: "test", change: "drop 2026") { _ in withoutIt }
        let second = try #require(try await store.configuration(for: lb2, after: 1, timeout: .seconds(5)))
        #expect(second.version == 2)
        #expect(try SiteReader.load(yaml: second.site).virtualServers.map(\.name) == ["web"])
    }

    /// A primary killed without a word keeps its last heartbeat (naming it primary) until it shows Offline; the
    /// secondary that took over says so at once. The status believes the newer claim, and shows both only while both
    /// keep saying it (a real split brain).
    @Test func aPrimaryClaimIsSupersededByANewerClaimOfAnotherDevice() async throws {
        let store = try ConsoleStore.inMemory()
        _ = try await store.createSite(try ConfigNode.parse(yaml: sampleSite), actor: "test")
        let lb1 = try await enrolled("lb1", in: store)
        let lb2 = try await enrolled("lb2", in: store)
        func report(_ agent: EnrolledAgent, _ role: VirtualServerRole) async throws {
            // Heartbeats are stamped to the millisecond; the claims' order is what is tested.
            try await Task.sleep(for: .milliseconds(5))
            try await store.heartbeat(
                agent,
                report: AgentReport(
                    softwareVersion: "0.1.0",
                    appliedVersion: 1,
                    roles: [AgentRole(virtualServer: "web", family: "ipv4", role: role, priority: 100)],
                    gateways: []
                )
            )
        }
        func roles() async throws -> [String: [VirtualServerRole]] {
            let statuses = try await store.deviceStatuses(site: "lab", consoleVersion: "0.1.0")
            return Dictionary(uniqueKeysWithValues: statuses.map { ($0.device, $0.roles.map(\.role)) })
        }
        try await report(lb1, .primary)
        try await report(lb2, .secondary)
        #expect(try await roles() == ["lb1": [.primary], "lb2": [.secondary]])
        // lb1 dies; lb2 takes over and says so. lb1 has said nothing since: its claim is history.
        try await report(lb2, .primary)
        #expect(try await roles() == ["lb1": [], "lb2": [.primary]])
        // lb2 keeps reporting: its claim still began after lb1's last word.
        try await report(lb2, .primary)
        #expect(try await roles() == ["lb1": [], "lb2": [.primary]])
        // lb1 was alive after all and still claims it: a split brain, both show.
        try await report(lb1, .primary)
        #expect(try await roles() == ["lb1": [.primary], "lb2": [.primary]])
        // It resolves: lb1 steps down.
        try await report(lb1, .secondary)
        #expect(try await roles() == ["lb1": [.secondary], "lb2": [.primary]])
        // A new claim by lb1 supersedes lb2's until lb2 speaks again.
        try await report(lb1, .primary)
        #expect(try await roles() == ["lb1": [.primary], "lb2": []])
        try await report(lb2, .secondary)
        #expect(try await roles() == ["lb1": [.primary], "lb2": [.secondary]])
    }

    /// A heartbeat may arrive before the ACK of the version it runs: the status shows the version it reports.
    @Test func theAppliedVersionIsTheNewestOfTheAcknowledgementAndTheHeartbeat() async throws {
        let store = try ConsoleStore.inMemory()
        _ = try await store.createSite(try ConfigNode.parse(yaml: sampleSite), actor: "test")
        let enrolment = try await store.enrol(
            joinToken: try await store.createJoinToken(site: "lab", device: "lb1", actor: "test").token,
            device: "lb1"
        )
        let lb1 = try #require(try await store.agent(forCredential: enrolment.credential))
        func applied() async throws -> Int? {
            let statuses = try await store.deviceStatuses(site: "lab", consoleVersion: "0.1.0")
            return statuses.first { $0.device == "lb1" }?.appliedVersion
        }
        try await store.heartbeat(
            lb1,
            report: AgentReport(softwareVersion: "0.1.0", appliedVersion: 1, roles: [], gateways: [])
        )
        #expect(try await applied() == 1)
        try await store.acknowledge(lb1, version: 1, error: nil)
        #expect(try await applied() == 1)
        // A version refused keeps the one running.
        try await store.acknowledge(lb1, version: 2, error: "cannot bind")
        #expect(try await applied() == 1)
    }
}
