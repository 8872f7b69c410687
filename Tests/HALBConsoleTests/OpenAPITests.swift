import Foundation
import HALBConsole
import HALBCore
import HALBWire
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import Yams

/// docs/openapi.yaml describes exactly the routes the console serves.
@Suite struct OpenAPITests {
    private static var document: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return ((try? Yams.load(yaml: text)) as? [String: Any]) ?? [:]
    }

    /// `GET /api/v1/sites/{site}` for each operation of the document.
    private var documented: Set<String> {
        let paths = Self.document["paths"] as? [String: Any] ?? [:]
        var operations: Set<String> = []
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys
            where ["get", "put", "post", "delete", "patch"].contains(method) {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The same for the router, its `:name` captures written as `{name}` (the list capture is `{list}` in the
    /// document, as it names gateways, devices or virtual servers).
    private var served: Set<String> {
        let router = ConsoleAPI.router(store: try! ConsoleStore.inMemory())
        return Set(
            // The web page's files (`/`, `/ui/...`) are not part of the API.
            router.routes.filter(Self.isAPI).map { route in
                let path = "\(route.path)".split(separator: "/").map { component in
                    let name = component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
                    return name == "{collection}" ? "{list}" : name
                }.joined(separator: "/")
                return "\(route.method) /\(path)"
            }
        )
    }

    /// A route of the API (the rest serves the web page's files, open to all: the page asks for a session).
    private static func isAPI(_ route: Router<ConsoleRequestContext>.RouteDescription) -> Bool {
        let path = "\(route.path)"
        return path.hasPrefix("/api/") || path.hasPrefix("/agent/") || path == "/healthz"
            || path.hasPrefix("api/") || path.hasPrefix("agent/") || path == "healthz"
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsServed() {
        #expect(!self.documented.isEmpty, "docs/openapi.yaml could not be read")
        #expect(self.served.subtracting(self.documented).sorted() == [], "served but not documented")
        #expect(self.documented.subtracting(self.served).sorted() == [], "documented but not served")
    }

    @Test func everyRouteButHealthLoginAndEnrolmentAnswers401WithoutCredentials() async throws {
        let router = ConsoleAPI.router(store: try ConsoleStore.inMemory())
        let open: Set<String> = [
            "GET /healthz", "POST /api/v1/login", "POST /api/v1/session", "POST /agent/v1/enrol",
        ]
        let routes = router.routes.filter(Self.isAPI).map { route in
            // Captures get sample values: `:site` → lab, `:collection` → gateways, `:version` → 1, others → x.
            let path = "\(route.path)".split(separator: "/").map { component -> String in
                switch component {
                case ":site": "lab"
                case ":collection": "gateways"
                case ":version": "1"
                case _ where component.hasPrefix(":"): "x"
                default: String(component)
                }
            }.joined(separator: "/")
            let template = "\(route.path)".split(separator: "/").joined(separator: "/")
            return (method: route.method, path: "/" + path, name: "\(route.method) /\(template)")
        }
        #expect(routes.count > 20)
        let app = Application(router: router)
        try await app.test(.router) { client in
            for route in routes where !open.contains(route.name) {
                for headers: HTTPFields in [[:], [.authorization: "Bearer halb_0011.bogus"]] {
                    try await client.execute(
                        uri: route.path,
                        method: route.method,
                        headers: headers,
                        body: ByteBuffer(string: "{}")
                    ) { response in
                        #expect(response.status == .unauthorized, "\(route.name) with \(headers): \(response.status)")
                    }
                }
            }
        }
    }

    @Test func theRoutesDoNotClash() throws {
        try ConsoleAPI.router(store: try ConsoleStore.inMemory()).validate()
    }

    @Test func everyOperationDocumentsItsErrorsAndEveryReferenceResolves() throws {
        let text = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/openapi.yaml"),
            encoding: .utf8
        )
        let components = Self.document["components"] as? [String: Any] ?? [:]
        for match in text.matches(of: /\$ref: "#\/components\/(\w+)\/(\w+)"/) {
            let section = components[String(match.1)] as? [String: Any] ?? [:]
            #expect(section[String(match.2)] != nil, "unresolved \(match.0)")
        }
        let paths = Self.document["paths"] as? [String: Any] ?? [:]
        for (path, item) in paths where path.hasPrefix("/api/v1/") && path != "/api/v1/login" {
            for (method, operation) in item as? [String: Any] ?? [:] where method != "parameters" {
                let responses = (operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]
                #expect(responses["401"] != nil, "\(method) \(path) does not document 401")
            }
        }
    }
}

// MARK: - Answers match the document's schemas

/// A site with every field of the model set at least once, each kind of payload and setting included.
private let completeSite = """
    site: branch-office
    gateways:
      - name: gw-a
        address: 198.51.100.11
        ports: { gateway: 80, ssl: 443, clientManagement: 20009, udp: 3391 }
        weight: 2
      - { name: gw-b, address: gw-b.example.net, ports: { gateway: 8080 } }
      - { name: gw-c, address: "2001:db8:1::13", enabled: false, drain: true }
    devices:
      - { name: lb1, address: 203.0.113.2, interface: eth0 }
      - { name: lb2, address: 203.0.113.3, interface: bond0 }
    virtualServers:
      - name: ras
        description: Remote access for the branch office
        publicAddress: ras.example.com
        vip: { ipv4: 192.0.2.10/24, ipv6: "2001:db8::10/64", interface: eth1 }
        vrrp: { routerId: 51, advertInterval: 200ms, preempt: false, preemptDelay: 30s, acceptFrom: any }
        devices: [lb1, { name: lb2, priority: 90 }]
        payloads:
          gateway: { port: 80, gateways: [gw-a, gw-b], balancing: roundrobin }
          ssl:
            gateways: [gw-a]
            balancing: sourcehash
            sni: { desktop.example.com: [gw-a, gw-b], "*.apps.example.com": [gw-b] }
          clientManagement: { enabled: false, balancing: random }
          udp:
            ports: [443, 3391]
            gateways: [gw-a]
            idleTimeout: 5m
            maxFlows: 5000
            healthCheck: { sendHex: ff000000, expect: pong, interval: 5s, timeout: 2s, rise: 3, fall: 2 }
        timeouts: { connect: 3s, clientIdle: 2h, gatewayIdle: 1h30m, clientHello: 10s }
        limits: { maxConnections: 20000, maxConnectionsPerGateway: 5000 }
        proxyProtocol: v2
        persistence: { type: sourceIP, timeout: 1h }
      - name: portal
        vip: { ipv4: 192.0.2.20/24 }
        devices: [lb2, lb1]
        payloads:
          ssl:
            mode: offload
            certificate: /etc/halb/portal.pem
            privateKey: /etc/halb/portal.key
            alpn: [h2, http/1.1]
            minimumTLSVersion: "1.3"
            ciphers: [ECDHE-RSA-AES128-GCM-SHA256, ECDHE-ECDSA-AES128-GCM-SHA256]
            gatewayTLS: { verify: true, caBundle: /etc/halb/gateways-ca.pem }
        healthCheck: { type: http, path: /healthz, expectedStatus: 204, interval: 5s, timeout: 2s }
        proxyProtocol: v1
      - name: legacy
        enabled: false
        vip: { ipv4: 192.0.2.30/24 }
        devices: [lb1]
        vrrp: { unicast: true }
        payloads:
          ssl: { mode: offload, certificate: /etc/halb/l.pem, privateKey: /etc/halb/l.key, ciphers: intermediate }
          udp: { ports: [3391], healthCheck: { send: ping, expectHex: 00ff } }
        healthCheck: { type: tls }

    """

/// Sends requests through the router and checks each answer against what docs/openapi.yaml says of its operation
/// and status: the status is documented, and a JSON body matches the schema given for it (a request body sent
/// with a 2xx answer expected too). Collects the fields of the named schemas the answers had.
private struct ConformanceClient {
    let client: any TestClientProtocol
    let validator: JSONSchemaValidator
    /// The bearer token sent when a request names none.
    var token = ""
    /// `Schema.field` for each field the checked bodies had.
    var seen: Set<String> = []
    /// `GET /api/v1/sites/{site}` for each operation sent.
    var sent: Set<String> = []

    /// Sends `operation` (`"GET /api/v1/sites/{site}"`) to `uri`, expecting `status`, and checks the answer.
    ///
    /// - Returns: the answer's JSON body, if it has one.
    @discardableResult
    mutating func send(
        _ operation: String,
        _ uri: String,
        _ status: HTTPResponse.Status,
        token: String? = nil,
        ifMatch: Int? = nil,
        json: String? = nil,
        yaml: String? = nil,
        headers extra: HTTPFields = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue? {
        let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
        let (method, path) = (parts[0].lowercased(), parts[1])
        var headers = extra
        let bearer = token ?? self.token
        if !bearer.isEmpty { headers[.authorization] = "Bearer \(bearer)" }
        if let ifMatch { headers[.ifMatch] = "\"\(ifMatch)\"" }
        if json != nil { headers[.contentType] = "application/json" }
        if yaml != nil { headers[.contentType] = "application/yaml" }
        let operationNode = try self.validator.resolve(
            "#/paths/\(path.replacingOccurrences(of: "/", with: "~1"))/\(method)"
        )
        if let json, (200..<300).contains(status.code) {
            let requestBody = try self.dereferenced(
                try #require(operationNode["requestBody"], "\(operation) has no body")
            )
            let schema = try #require(requestBody["content"]?["application/json"]?["schema"])
            try self.check(try JSONValue(json: Data(json.utf8)), schema, "request of \(operation)", sourceLocation)
        }
        let (answer, data) = try await self.client.execute(
            uri: uri,
            method: HTTPRequest.Method(rawValue: parts[0])!,
            headers: headers,
            body: (json ?? yaml).map { ByteBuffer(string: $0) }
        ) { response in (response.status, Data(response.body.readableBytesView)) }
        let text = String(decoding: data, as: UTF8.self)
        #expect(answer == status, "\(operation): \(answer) \(text)", sourceLocation: sourceLocation)
        self.sent.insert(operation)
        guard let documented = operationNode["responses"]?[String(answer.code)] else {
            Issue.record(
                "\(operation) answered \(answer.code), which the document does not give",
                sourceLocation: sourceLocation
            )
            return nil
        }
        let response = try self.dereferenced(documented)
        guard let content = response["content"] else {
            #expect(data.isEmpty, "\(operation) \(answer.code) has a body the document does not give: \(text)")
            return nil
        }
        guard let schema = content["application/json"]?["schema"] else { return nil }
        let body = try JSONValue(json: data)
        try self.check(body, schema, "\(operation) \(answer.code)", sourceLocation)
        return body
    }

    /// Checks `value` against `schema`, recording every error as an issue.
    mutating func check(
        _ value: JSONValue,
        _ schema: JSONValue,
        _ what: String,
        _ sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let (errors, seen) = try self.validator.validate(value, against: schema)
        self.seen.formUnion(seen)
        #expect(errors == [], "\(what) does not match its schema", sourceLocation: sourceLocation)
    }

    private func dereferenced(_ node: JSONValue) throws -> JSONValue {
        guard let reference = node["$ref"]?.string else { return node }
        return try self.validator.resolve(reference)
    }
}

extension OpenAPITests {
    private static func validator() throws -> JSONSchemaValidator {
        JSONSchemaValidator(document: try JSONValue(yaml: Self.document))
    }

    private static func schema(_ name: String) -> JSONValue {
        .object(["$ref": .string("#/components/schemas/\(name)")])
    }

    @Test func theValidatorRefusesWhatTheSchemasDoNotAllow() throws {
        let validator = try Self.validator()
        let gateway: JSONValue = .object([
            "name": .string("gw1"), "address": .string("192.0.2.1"), "weight": .integer(1), "enabled": .bool(true),
            "drain": .bool(false),
            "ports": .object(["gateway": .integer(80), "ssl": .integer(443), "clientManagement": .integer(20009)]),
        ])
        #expect(try validator.validate(gateway, against: Self.schema("Gateway")).errors == [])
        #expect(try validator.validate(gateway, against: Self.schema("Item")).errors == [])
        guard case .object(var fields) = gateway else { return }
        for (key, value, error) in [
            ("extra", JSONValue.bool(true), "$: field extra is not in the schema"),
            ("weight", .bool(true), "$.weight: true is not of type integer"),
            ("weight", .string("1"), "$.weight: \"1\" is not of type integer"),
            ("weight", .integer(0), "$.weight: 0 is less than 1.0"),
            ("enabled", .integer(1), "$.enabled: 1 is not of type boolean"),
            ("name", .string("-gw"), "$.name: \"-gw\" does not match ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"),
            ("name", .integer(1), "$.name: 1 is not of type string"),
        ] {
            var changed = fields
            changed[key] = value
            #expect(try validator.validate(.object(changed), against: Self.schema("Gateway")).errors == [error])
        }
        fields["drain"] = nil
        #expect(
            try validator.validate(.object(fields), against: Self.schema("Gateway")).errors == [
                "$: required field drain is missing"
            ]
        )
        #expect(try validator.validate(.object(fields), against: Self.schema("Item")).errors.count == 1)
        #expect(
            try JSONValue(json: Data(#"[true, 1, 1.5, "1", null]"#.utf8))
                == .array([.bool(true), .integer(1), .number(1.5), .string("1"), .null])
        )
        #expect(throws: JSONSchemaValidator.Unsupported.self) {
            try validator.validate(.null, against: .object(["propertyNames": .object([:])]))
        }
    }

    @Test(.enabled(if: opensslIsInstalled, "needs openssl"))
    func everyAnswerMatchesTheSchemaOfItsOperation() async throws {
        let store = try ConsoleStore.inMemory()
        _ = try await store.createFirstAdmin(password: "correct horse battery")
        _ = try await store.createUser("viewer", password: "viewer password 1", role: .readOnly, actor: "test")
        let certificate = try selfSignedCertificate("portal.example.com")
        let validator = try Self.validator()
        let app = Application(router: ConsoleAPI.router(store: store, longPollTimeout: .milliseconds(50)))
        let (seen, sent) = try await app.test(.router) { client in
            var api = ConformanceClient(client: client, validator: validator)
            try await self.exercise(&api, certificate: certificate)
            return (api.seen, api.sent)
        }

        // The site and the answers had every field of every schema they reached (the test data is complete).
        for name in ["Site", "Gateway", "Device", "VirtualServer", "SSLPayload", "UDPHealthCheck", "DeviceStatus"] {
            #expect(seen.contains { $0.hasPrefix(name + ".") }, "no \(name) was checked")
        }
        guard case .object(let schemas)? = validator.document["components"]?["schemas"] else { return }
        for (name, schema) in schemas where seen.contains(where: { $0.hasPrefix(name + ".") }) {
            guard case .object(let properties)? = schema["properties"] else { continue }
            for property in properties.keys where !seen.contains("\(name).\(property)") {
                Issue.record("no answer checked had \(name).\(property)")
            }
        }
        // Every operation of the document was sent.
        let operations = Set(
            try #require(
                validator.document["paths"].flatMap { paths -> [String]? in
                    guard case .object(let items) = paths else { return nil }
                    return items.flatMap { path, item -> [String] in
                        guard case .object(let methods) = item else { return [] }
                        return methods.keys.filter { $0 != "parameters" }.map { "\($0.uppercased()) \(path)" }
                    }
                }
            )
        )
        #expect(operations.subtracting(sent).sorted() == [])
    }

    /// Every operation of the document, with realistic data and the errors each kind of mistake gets.
    private func exercise(_ api: inout ConformanceClient, certificate: (certificate: String, key: String)) async throws
    {
        let site = "/api/v1/sites/branch-office"
        // Logins, without and with a token.
        try await api.send("GET /healthz", "/healthz", .ok)
        let login = try await api.send(
            "POST /api/v1/login",
            "/api/v1/login",
            .created,
            json: #"{"user": "admin", "password": "correct horse battery"}"#
        )
        api.token = try #require(login?["token"]?.string)
        let viewer = try #require(
            try await api.send(
                "POST /api/v1/login",
                "/api/v1/login",
                .created,
                json: #"{"user": "viewer", "password": "viewer password 1"}"#
            )?["token"]?.string
        )
        try await api.send(
            "POST /api/v1/login",
            "/api/v1/login",
            .unauthorized,
            json: #"{"user": "admin", "password": "wrong password"}"#
        )
        try await api.send("GET /api/v1/whoami", "/api/v1/whoami", .ok)

        // The web page's session: signing in sets a cookie (a session token, here one from a login); a change by
        // cookie needs the CSRF token.
        let password = #"{"user": "admin", "password": "correct horse battery"}"#
        try await api.send("POST /api/v1/session", "/api/v1/session", .created, token: "", json: password)
        try await api.send(
            "POST /api/v1/session",
            "/api/v1/session",
            .unauthorized,
            token: "",
            json: #"{"user": "admin", "password": "wrong password"}"#
        )
        let cookieToken = try #require(
            try await api.send("POST /api/v1/login", "/api/v1/login", .created, json: password)?["token"]?.string
        )
        let cookie: HTTPFields = [.cookie: "halb_session=\(cookieToken)"]
        let csrf = try #require(
            try await api.send("GET /api/v1/session", "/api/v1/session", .ok, token: "", headers: cookie)?["csrfToken"]?
                .string
        )
        try await api.send("GET /api/v1/session", "/api/v1/session", .notFound)
        try await api.send("DELETE /api/v1/session", "/api/v1/session", .forbidden, token: "", headers: cookie)
        var signOut = cookie
        signOut[HTTPField.Name("X-CSRF-Token")!] = csrf
        try await api.send("DELETE /api/v1/session", "/api/v1/session", .noContent, token: "", headers: signOut)
        try await api.send("GET /api/v1/session", "/api/v1/session", .unauthorized, token: "", headers: cookie)
        try await api.send("GET /api/v1/sites", "/api/v1/sites", .unauthorized, token: "halb_0011.bogus")

        // The site, whole.
        try await api.send("POST /api/v1/sites", "/api/v1/sites", .created, yaml: completeSite)
        try await api.send("POST /api/v1/sites", "/api/v1/sites", .conflict, yaml: completeSite)
        try await api.send("POST /api/v1/sites", "/api/v1/sites", .forbidden, token: viewer, yaml: completeSite)
        try await api.send("POST /api/v1/sites", "/api/v1/sites", .badRequest, json: "{")
        try await api.send("GET /api/v1/sites", "/api/v1/sites", .ok)
        let document = try #require(try await api.send("GET /api/v1/sites/{site}", site, .ok))
        try await api.send("GET /api/v1/sites/{site}", "/api/v1/sites/nowhere", .notFound)
        try await api.send("GET /api/v1/sites/{site}/export", site + "/export", .ok)
        try await api.send("PUT /api/v1/sites/{site}", site, .ok, ifMatch: 1, json: "\(document)")
        try await api.send("PUT /api/v1/sites/{site}", site, .preconditionFailed, ifMatch: 1, json: "\(document)")
        try await api.send("PUT /api/v1/sites/{site}", site, .preconditionRequired, json: "\(document)")

        // Each list and item, as the list and as its own kind; an item read back is a valid request.
        for (list, kind) in [("gateways", "Gateway"), ("devices", "Device"), ("virtual-servers", "VirtualServer")] {
            guard
                case .array(let items)? = try await api.send("GET /api/v1/sites/{site}/{list}", "\(site)/\(list)", .ok)
            else {
                Issue.record("no \(list)")
                continue
            }
            for item in items {
                try api.check(item, Self.schema(kind), kind)
                let name = try #require(item["name"]?.string)
                try await api.send("GET /api/v1/sites/{site}/{list}/{name}", "\(site)/\(list)/\(name)", .ok)
            }
        }
        let web = try #require(
            try await api.send("GET /api/v1/sites/{site}/{list}/{name}", site + "/virtual-servers/ras", .ok)
        )
        try await api.send(
            "PUT /api/v1/sites/{site}/{list}/{name}",
            site + "/virtual-servers/ras",
            .ok,
            ifMatch: 2,
            json: "\(web)"
        )
        try await api.send(
            "POST /api/v1/sites/{site}/{list}",
            site + "/gateways",
            .created,
            ifMatch: 3,
            json:
                #"{"name": "gw-d", "address": "192.0.2.44", "ports": {"gateway": 80, "ssl": 443, "clientManagement": 20009}, "weight": 1, "enabled": true, "drain": false}"#
        )
        try await api.send(
            "PUT /api/v1/sites/{site}/{list}/{name}",
            site + "/gateways/gw-d",
            .unprocessableContent,
            ifMatch: 4,
            json: #"{"address": "192.0.2.44", "ports": {"gateway": 70000}}"#
        )
        try await api.send("GET /api/v1/sites/{site}/{list}/{name}", site + "/gateways/nowhere", .notFound)
        try await api.send("DELETE /api/v1/sites/{site}/{list}/{name}", site + "/gateways/gw-d", .noContent, ifMatch: 4)

        // History and audit.
        try await api.send("GET /api/v1/sites/{site}/versions", site + "/versions", .ok)
        try await api.send("GET /api/v1/sites/{site}/versions/{version}", site + "/versions/1", .ok)
        try await api.send(
            "POST /api/v1/sites/{site}/versions/{version}/rollback",
            site + "/versions/1/rollback",
            .ok,
            ifMatch: 5
        )
        try await api.send("GET /api/v1/audit", "/api/v1/audit?limit=1000", .ok)
        try await api.send(
            "GET /api/v1/audit",
            "/api/v1/audit?actor=admin&action=create&since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z",
            .ok
        )
        try await api.send("GET /api/v1/audit", "/api/v1/audit?since=yesterday", .unprocessableContent)

        // Users and tokens.
        try await api.send("GET /api/v1/users", "/api/v1/users", .ok)
        try await api.send("GET /api/v1/users", "/api/v1/users", .forbidden, token: viewer)
        try await api.send(
            "POST /api/v1/users",
            "/api/v1/users",
            .created,
            json: #"{"name": "auditor", "password": "auditor password", "role": "read-only"}"#
        )
        let deploy = try await api.send(
            "POST /api/v1/tokens",
            "/api/v1/tokens",
            .created,
            json: #"{"name": "deploy", "role": "admin"}"#
        )
        try await api.send("GET /api/v1/tokens", "/api/v1/tokens", .ok)
        let deployID = try #require(deploy?["info"]?["id"]?.string)
        try await api.send("DELETE /api/v1/tokens/{id}", "/api/v1/tokens/\(deployID)", .noContent)
        try await api.send("DELETE /api/v1/tokens/{id}", "/api/v1/tokens/\(deployID)", .notFound)
        try await api.send(
            "PUT /api/v1/users/{name}/password",
            "/api/v1/users/auditor/password",
            .noContent,
            json: #"{"password": "another auditor password"}"#
        )
        try await api.send(
            "PUT /api/v1/users/{name}/password",
            "/api/v1/users/auditor/password",
            .unprocessableContent,
            json: #"{"password": "short"}"#
        )
        try await api.send(
            "PUT /api/v1/users/{name}/password",
            "/api/v1/users/viewer/password",
            .noContent,
            token: viewer,
            json: #"{"password": "another viewer password", "currentPassword": "viewer password 1"}"#
        )
        try await api.send("DELETE /api/v1/users/{name}", "/api/v1/users/auditor", .noContent)
        try await api.send("DELETE /api/v1/users/{name}", "/api/v1/users/admin", .conflict)

        // Certificates: one in use by a virtual server.
        let upload =
            #"{"certificate": \#(JSONValue.string(certificate.certificate)), "privateKey": \#(JSONValue.string(certificate.key))}"#
        try await api.send(
            "PUT /api/v1/sites/{site}/certificates/{name}",
            site + "/certificates/portal",
            .created,
            json: upload
        )
        var portal = try #require(
            try await api.send("GET /api/v1/sites/{site}/{list}/{name}", site + "/virtual-servers/portal", .ok)
        )
        if case .object(var fields) = portal, case .object(var payloads)? = fields["payloads"],
            case .object(var ssl)? = payloads["ssl"]
        {
            ssl["certificate"] = nil
            ssl["privateKey"] = nil
            ssl["managedCertificate"] = .string("portal")
            payloads["ssl"] = .object(ssl)
            fields["payloads"] = .object(payloads)
            portal = .object(fields)
        }
        try await api.send(
            "PUT /api/v1/sites/{site}/{list}/{name}",
            site + "/virtual-servers/portal",
            .ok,
            ifMatch: 6,
            json: "\(portal)"
        )
        try await api.send(
            "PUT /api/v1/sites/{site}/certificates/{name}",
            site + "/certificates/portal",
            .ok,
            json: upload
        )
        try await api.send("GET /api/v1/sites/{site}/certificates", site + "/certificates", .ok)
        try await api.send("GET /api/v1/sites/{site}/certificates/{name}", site + "/certificates/portal", .ok)
        try await api.send("DELETE /api/v1/sites/{site}/certificates/{name}", site + "/certificates/portal", .conflict)
        try await api.send(
            "PUT /api/v1/sites/{site}/certificates/{name}",
            site + "/certificates/spare",
            .created,
            json: upload
        )
        try await api.send("DELETE /api/v1/sites/{site}/certificates/{name}", site + "/certificates/spare", .noContent)

        // Two devices enrol; lb2 gets the certificate, reports and applies, lb1 refuses.
        var credentials: [String: String] = [:]
        for device in ["lb1", "lb2"] {
            let join = try #require(
                try await api.send(
                    "POST /api/v1/sites/{site}/join-tokens",
                    site + "/join-tokens",
                    .created,
                    json: #"{"device": "\#(device)"}"#
                )?["token"]?.string
            )
            let enrolment = try await api.send(
                "POST /agent/v1/enrol",
                "/agent/v1/enrol",
                .created,
                token: "",
                json: #"{"joinToken": "\#(join)", "device": "\#(device)"}"#
            )
            credentials[device] = try #require(enrolment?["credential"]?.string)
        }
        let lb2 = try #require(credentials["lb2"])
        let configuration = try await api.send("GET /agent/v1/config", "/agent/v1/config?after=0", .ok, token: lb2)
        #expect(configuration?["certificates"].map { "\($0)".contains("portal") } == true)
        let version = try #require(
            try await api.send("GET /api/v1/sites/{site}", site, .ok)?["version"].flatMap {
                if case .integer(let version) = $0 { Int(version) } else { nil }
            }
        )
        try await api.send("GET /agent/v1/config", "/agent/v1/config?after=\(version)", .notModified, token: lb2)
        let report = AgentReport(
            softwareVersion: ConsoleAPI.softwareVersion,
            appliedVersion: version,
            roles: [
                AgentRole(virtualServer: "ras", family: "ipv4", role: .secondary, priority: 90),
                AgentRole(virtualServer: "ras", family: "ipv6", role: .primary, priority: 90),
                AgentRole(virtualServer: "portal", family: nil, role: .standalone, priority: nil),
            ],
            gateways: [
                AgentGatewayHealth(gateway: "gw-a", state: "up"), AgentGatewayHealth(gateway: "gw-b", state: "down"),
            ],
            heartbeatInterval: 2
        )
        try await api.send(
            "POST /agent/v1/heartbeat",
            "/agent/v1/heartbeat",
            .noContent,
            token: lb2,
            json: String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        )
        try await api.send(
            "POST /agent/v1/ack",
            "/agent/v1/ack",
            .noContent,
            token: lb2,
            json: #"{"version": \#(version)}"#
        )
        try await api.send(
            "POST /agent/v1/ack",
            "/agent/v1/ack",
            .noContent,
            token: credentials["lb1"],
            json: #"{"version": \#(version), "error": "cannot bind 192.0.2.10:443"}"#
        )
        try await api.send("POST /agent/v1/ack", "/agent/v1/ack", .unauthorized, token: "halb_0011.bogus", json: "{}")
        let status = try await api.send("GET /api/v1/sites/{site}/status", site + "/status", .ok)
        #expect("\(status ?? .null)".contains("Config error"))
        // "Ping host": the console refuses a host outside the site; an agent with no check waiting gets none, and an
        // answer to no check is dropped.
        try await api.send(
            "POST /api/v1/sites/{site}/ping",
            site + "/ping",
            .unprocessableContent,
            json: #"{"device": "lb2", "target": "198.51.100.7", "port": 80}"#
        )
        try await api.send(
            "POST /api/v1/sites/{site}/ping",
            site + "/ping",
            .forbidden,
            token: viewer,
            json: #"{"device": "lb2", "target": "gw-a"}"#
        )
        try await api.send("GET /agent/v1/checks", "/agent/v1/checks?wait=0", .ok, token: lb2)
        try await api.send(
            "POST /agent/v1/checks",
            "/agent/v1/checks",
            .noContent,
            token: lb2,
            json: #"{"id": "no-such-check", "reachable": false, "milliseconds": 1, "error": "connection refused"}"#
        )
        try await api.send("POST /agent/v1/checks", "/agent/v1/checks", .badRequest, token: lb2, json: "{")
        // A device that stops says so in its last heartbeat, and shows offline at once.
        var last = report
        last.stopping = true
        try await api.send(
            "POST /agent/v1/heartbeat",
            "/agent/v1/heartbeat",
            .noContent,
            token: lb2,
            json: String(decoding: try JSONEncoder().encode(last), as: UTF8.self)
        )
        let stopped = try await api.send("GET /api/v1/sites/{site}/status", site + "/status?wait=0", .ok)
        try await api.send("GET /api/v1/sites/{site}/status", site + "/status?wait=31", .unprocessableContent)
        #expect("\(stopped ?? .null)".contains("Offline"))

        // Last, the site goes.
        try await api.send("DELETE /api/v1/sites/{site}", site, .noContent, ifMatch: version)
    }
}

extension OpenAPITests {
    /// Names are strings, whatever they look like: `SiteWriter` writes every string field quoted, so a gateway
    /// called `1e3` reaches a JSON client as the string "1e3", not the number 1000.
    @Test func aNameThatLooksLikeANumberIsAStringInTheAnswers() async throws {
        let store = try ConsoleStore.inMemory()
        let site = """
            site: "2026"
            gateways: [{ name: "1e3", address: 192.0.2.1 }, { name: "true", address: 192.0.2.2 }]
            devices: [{ name: lb1, address: 192.0.2.3 }]
            virtualServers: [{ name: web, vip: { ipv4: 192.0.2.10/24 }, devices: [lb1], payloads: { gateway: {} } }]
            """
        let stored = try await store.createSite(try ConfigNode.parse(yaml: site), actor: "test")
        // What the site's routes answer (`ConsoleAPI.document`).
        let answer = try JSONValue(json: Data(stored.document.json().utf8))
        let (errors, _) = try Self.validator().validate(answer, against: Self.schema("Site"))
        #expect(errors == [])
        #expect(stored.document.json().contains(#"{"name":"1e3","address":"192.0.2.1""#))
    }
}
