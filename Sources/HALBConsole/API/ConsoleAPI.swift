import Foundation
import HALBCore
import HALBWire
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The request context of the console's API: who is asking, once ``AuthenticationMiddleware`` checked the token.
public struct ConsoleRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `nil` until authenticated (only `/healthz`, `/api/v1/login` and `/agent/v1/enrol` run without).
    public var identity: Identity?
    /// The device, on `/agent/v1` routes, once ``AgentAuthenticationMiddleware`` checked its credential.
    public var agent: EnrolledAgent?

    /// The client's IP address (`unknown` for an in-process test client), for the login throttle and the logs.
    public var clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.agent = nil
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    func requireAgent() throws -> EnrolledAgent {
        guard let agent = self.agent else { throw ConsoleError.unauthorized("device credential required") }
        return agent
    }

    /// The authenticated identity.
    func requireIdentity() throws -> Identity {
        guard let identity = self.identity else { throw ConsoleError.unauthorized("authentication required") }
        return identity
    }

    /// The identity, if it may change things.
    func requireAdmin() throws -> Identity {
        let identity = try self.requireIdentity()
        guard identity.role == .admin else {
            throw ConsoleError.forbidden(
                "user \(identity.user) is read-only (this token's role is \(identity.role.rawValue))"
            )
        }
        return identity
    }
}

/// The console's REST API, `/api/v1` (JSON; site documents also as YAML), described in docs/openapi.yaml.
public enum ConsoleAPI {
    /// The largest request body accepted.
    static let maximumBody = 1 << 20

    /// The software version devices are compared with (Needs update).
    public static let softwareVersion = HALBVersion.current

    /// Builds the router the console serves (tests run the same one).
    ///
    /// - Parameter longPollTimeout: how long a device's configuration request waits for a change (30 s).
    /// - Parameter throttle: counts failed password checks (shared with nothing else; tests pass their own clock).
    public static func router(
        store: ConsoleStore,
        longPollTimeout: Duration = .seconds(30),
        throttle: PasswordGuard = PasswordGuard()
    ) -> Router<ConsoleRequestContext> {
        let router = Router(context: ConsoleRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        let api = router.group("api/v1")
        api.post("login") { request, context in
            let body = try await Self.body(request, context)
            let user = try Self.field("user", in: body)
            let password = try Self.field("password", in: body)
            let (token, info) = try await throttle.check(
                user: user,
                from: context.clientAddress,
                store: store,
                logger: context.logger
            ) {
                try await store.logIn(user, password: password)
            }
            context.logger.info(
                "Login",
                metadata: ["user.name": "\(user.prefix(64))", "client.address": "\(context.clientAddress)"]
            )
            return try Self.json(TokenCreated(token: token, info: info), status: .created)
        }
        let authenticated = api.group().add(middleware: AuthenticationMiddleware(store: store))
        authenticated.get("whoami") { _, context in
            let identity = try context.requireIdentity()
            return try Self.json(WhoAmI(user: identity.user, role: identity.role, token: identity.tokenID))
        }
        Self.addSiteRoutes(to: authenticated, store: store)
        Self.addAccountRoutes(to: authenticated, store: store, throttle: throttle)
        Self.addDeviceRoutes(to: authenticated, store: store)
        Self.addCertificateRoutes(to: authenticated, store: store)
        Self.addAgentRoutes(to: router, store: store, longPollTimeout: longPollTimeout)
        return router
    }

    // MARK: - Certificates

    private static func addCertificateRoutes(to group: RouterGroup<ConsoleRequestContext>, store: ConsoleStore) {
        group.get("sites/:site/certificates") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(try await store.certificates(site: try context.parameters.require("site")))
        }
        group.get("sites/:site/certificates/:name") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(
                try await store.certificate(
                    site: try context.parameters.require("site"),
                    name: try context.parameters.require("name")
                )
            )
        }
        group.put("sites/:site/certificates/:name") { request, context in
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let (info, created, version) = try await store.putCertificate(
                site: try context.parameters.require("site"),
                name: try context.parameters.require("name"),
                certificatePEM: try Self.field("certificate", in: body),
                privateKeyPEM: try Self.field("privateKey", in: body),
                actor: identity.user
            )
            var response = try Self.json(info, status: created ? .created : .ok)
            response.headers[.eTag] = "\"\(version)\""
            return response
        }
        group.delete("sites/:site/certificates/:name") { _, context in
            let identity = try context.requireAdmin()
            try await store.deleteCertificate(
                site: try context.parameters.require("site"),
                name: try context.parameters.require("name"),
                actor: identity.user
            )
            return Response(status: .noContent)
        }
    }

    // MARK: - Devices (admins) and agents (devices)

    private static func addDeviceRoutes(to group: RouterGroup<ConsoleRequestContext>, store: ConsoleStore) {
        // Not under sites/:site/devices/..., which would hide the devices list from sites/:site/:collection.
        group.post("sites/:site/join-tokens") { request, context in
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let (token, expires) = try await store.createJoinToken(
                site: try context.parameters.require("site"),
                device: try Self.field("device", in: body),
                actor: identity.user
            )
            return try Self.json(JoinToken(token: token, expiresAt: expires), status: .created)
        }
        group.get("sites/:site/status") { _, context in
            _ = try context.requireIdentity()
            let site = try context.parameters.require("site")
            let devices = try await store.deviceStatuses(site: site, consoleVersion: Self.softwareVersion)
            let version = try await store.site(site).version
            return try Self.json(SiteStatus(site: site, version: version, devices: devices))
        }
    }

    private static func addAgentRoutes(
        to router: Router<ConsoleRequestContext>,
        store: ConsoleStore,
        longPollTimeout: Duration
    ) {
        let agent = router.group("agent/v1")
        agent.post("enrol") { request, context in
            let body = try await Self.body(request, context)
            let enrolment = try await store.enrol(
                joinToken: try Self.field("joinToken", in: body),
                device: try Self.field("device", in: body)
            )
            return try Self.json(enrolment, status: .created)
        }
        let enrolled = agent.group().add(middleware: AgentAuthenticationMiddleware(store: store))
        enrolled.get("config") { request, context in
            let device = try context.requireAgent()
            let after = request.uri.queryParameters.get("after").flatMap { Int($0) } ?? 0
            // A console that shuts down answers its long polls at once ("no change"), rather than after 30 s.
            let answer = try await cancelWhenGracefulShutdown {
                try await store.configuration(for: device, after: after, timeout: longPollTimeout)
            }
            guard let answer else {
                return Response(status: .notModified)
            }
            let body = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
            var response = Self.text(body, contentType: "application/json")
            response.headers[Self.signatureHeader] = ConsoleStore.signature(of: body, key: device.signingKey)
            return response
        }
        enrolled.post("ack") { request, context in
            let device = try context.requireAgent()
            let body = try await Self.body(request, context)
            guard case .scalar(let text, _) = body["version"], let version = Int(text) else {
                throw ConsoleError.invalidRequest([
                    ConfigurationIssue(path: "version", message: "required: the version applied or refused")
                ])
            }
            var error: String?
            if case .scalar(let text, _) = body["error"] { error = text }
            try await store.acknowledge(device, version: version, error: error)
            return Response(status: .noContent)
        }
        enrolled.post("heartbeat") { request, context in
            let device = try context.requireAgent()
            let buffer = try await request.body.collect(upTo: Self.maximumBody)
            let report: AgentReport
            do {
                report = try JSONDecoder().decode(AgentReport.self, from: Data(buffer.readableBytesView))
            } catch {
                throw ConsoleError.badRequest("the heartbeat is not a report: \(error)")
            }
            try await store.heartbeat(device, report: report)
            return Response(status: .noContent)
        }
    }

    /// The header that carries a configuration's signature (HMAC-SHA256 with the device's signing key, hex).
    public static let signatureHeader = HTTPField.Name("X-HALB-Signature")!

    struct JoinToken: Codable {
        var token: String
        var expiresAt: String
    }

    // MARK: - Sites

    private static func addSiteRoutes(to group: RouterGroup<ConsoleRequestContext>, store: ConsoleStore) {
        group.get("sites") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(try await store.sites().map { SiteSummary(name: $0.name, version: $0.version) })
        }
        group.post("sites") { request, context in
            let identity = try context.requireAdmin()
            let stored = try await store.createSite(try await Self.body(request, context), actor: identity.user)
            return Self.document(stored.document, version: stored.version, status: .created)
        }
        group.get("sites/:site") { _, context in
            _ = try context.requireIdentity()
            let stored = try await store.site(try context.parameters.require("site"))
            return Self.document(stored.document, version: stored.version)
        }
        group.get("sites/:site/export") { _, context in
            _ = try context.requireIdentity()
            let stored = try await store.site(try context.parameters.require("site"))
            var response = Self.text(SiteWriter.yaml(stored.site), contentType: "application/yaml; charset=utf-8")
            response.headers[.eTag] = "\"\(stored.version)\""
            return response
        }
        group.put("sites/:site") { request, context in
            let identity = try context.requireAdmin()
            let name = try context.parameters.require("site")
            let document = try await Self.body(request, context)
            let stored = try await store.changeSite(
                name,
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "replace site"
            ) { _ in document }
            return Self.document(stored.document, version: stored.version)
        }
        group.delete("sites/:site") { request, context in
            let identity = try context.requireAdmin()
            try await store.deleteSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user
            )
            return Response(status: .noContent)
        }

        // History.
        group.get("sites/:site/versions") { _, context in
            _ = try context.requireIdentity()
            return try Self.json(try await store.versions(of: try context.parameters.require("site")))
        }
        group.get("sites/:site/versions/:version") { _, context in
            _ = try context.requireIdentity()
            let stored = try await store.site(
                try context.parameters.require("site"),
                version: try Self.version(context)
            )
            return Self.document(stored.document, version: stored.version)
        }
        group.post("sites/:site/versions/:version/rollback") { request, context in
            let identity = try context.requireAdmin()
            let stored = try await store.rollback(
                try context.parameters.require("site"),
                to: try Self.version(context),
                basedOn: try Self.baseVersion(request),
                actor: identity.user
            )
            return Self.document(stored.document, version: stored.version)
        }

        // Gateways, devices and virtual servers, one at a time.
        group.get("sites/:site/:collection") { _, context in
            _ = try context.requireIdentity()
            let collection = try Self.collection(context)
            let stored = try await store.site(try context.parameters.require("site"))
            return Self.document(.sequence(SiteEditor.items(collection, in: stored.document)), version: stored.version)
        }
        group.post("sites/:site/:collection") { request, context in
            let identity = try context.requireAdmin()
            let collection = try Self.collection(context)
            let item = try await Self.body(request, context)
            let stored = try await store.changeSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "create \(collection.noun) \(SiteEditor.name(of: item) ?? "?")"
            ) { document in try SiteEditor.adding(item, to: collection, in: document) }
            let name = SiteEditor.name(of: item) ?? ""
            return Self.document(
                SiteEditor.item(collection, named: name, in: stored.document) ?? .null,
                version: stored.version,
                status: .created
            )
        }
        group.get("sites/:site/:collection/:name") { _, context in
            _ = try context.requireIdentity()
            let collection = try Self.collection(context)
            let name = try context.parameters.require("name")
            let stored = try await store.site(try context.parameters.require("site"))
            guard let item = SiteEditor.item(collection, named: name, in: stored.document) else {
                throw ConsoleError.notFound("no \(collection.noun) named \(name) in site \(stored.name)")
            }
            return Self.document(item, version: stored.version)
        }
        group.put("sites/:site/:collection/:name") { request, context in
            let identity = try context.requireAdmin()
            let collection = try Self.collection(context)
            let name = try context.parameters.require("name")
            let item = try await Self.body(request, context)
            let stored = try await store.changeSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "update \(collection.noun) \(name)"
            ) { document in try SiteEditor.replacing(name, in: collection, with: item, in: document) }
            let newName = SiteEditor.name(of: item) ?? name
            return Self.document(
                SiteEditor.item(collection, named: newName, in: stored.document) ?? .null,
                version: stored.version
            )
        }
        group.delete("sites/:site/:collection/:name") { request, context in
            let identity = try context.requireAdmin()
            let collection = try Self.collection(context)
            let name = try context.parameters.require("name")
            let stored = try await store.changeSite(
                try context.parameters.require("site"),
                basedOn: try Self.baseVersion(request),
                actor: identity.user,
                change: "delete \(collection.noun) \(name)"
            ) { document in try SiteEditor.removing(name, from: collection, in: document) }
            var response = Response(status: .noContent)
            response.headers[.eTag] = "\"\(stored.version)\""
            return response
        }
        group.get("audit") { request, context in
            _ = try context.requireIdentity()
            let site = request.uri.queryParameters.get("site")
            let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100
            return try Self.json(try await store.audit(site: site, limit: limit))
        }
    }

    // MARK: - Users and tokens

    private static func addAccountRoutes(
        to group: RouterGroup<ConsoleRequestContext>,
        store: ConsoleStore,
        throttle: PasswordGuard
    ) {
        group.get("users") { _, context in
            _ = try context.requireAdmin()
            return try Self.json(try await store.users())
        }
        group.post("users") { request, context in
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let roleText =
                body["role"].flatMap { node -> String? in
                    if case .scalar(let text, _) = node { return text }
                    return nil
                } ?? Role.readOnly.rawValue
            guard let role = Role(rawValue: roleText) else {
                throw ConsoleError.invalid([
                    ConfigurationIssue(path: "role", message: "\"\(roleText.prefix(80))\" is not admin or read-only")
                ])
            }
            let user = try await store.createUser(
                try Self.field("name", in: body),
                password: try Self.field("password", in: body),
                role: role,
                actor: identity.user
            )
            return try Self.json(user, status: .created)
        }
        group.delete("users/:name") { _, context in
            let identity = try context.requireAdmin()
            let name = try context.parameters.require("name")
            guard name != identity.user else {
                throw ConsoleError.conflict("you cannot delete yourself (user \(name))")
            }
            try await store.deleteUser(name, actor: identity.user)
            return Response(status: .noContent)
        }
        group.put("users/:name/password") { request, context in
            let identity = try context.requireIdentity()
            let name = try context.parameters.require("name")
            let body = try await Self.body(request, context)
            let own = name == identity.user
            // A read-only principal changes nothing but its own password, and only through a session it logged
            // into with that password: a read-only API token proves no password.
            guard identity.role == .admin || (own && identity.kind == .session) else {
                throw ConsoleError.forbidden(
                    own
                        ? "a read-only API token cannot change its user's password: log in as \(name) and use that session"
                        : "only an admin may set another user's password"
                )
            }
            let password = try Self.field("password", in: body)
            // Your own password needs the current one too: a stolen session token alone cannot take the account.
            // A wrong one counts as a failed login (the same back-off), so this is no faster password oracle.
            if own {
                let current = try Self.field("currentPassword", in: body)
                try await throttle.check(user: name, from: context.clientAddress, store: store, logger: context.logger)
                {
                    try await store.changePassword(
                        of: name,
                        to: password,
                        currentPassword: current,
                        keepingSession: identity.tokenID,
                        actor: identity.user
                    )
                }
            } else {
                try await store.changePassword(
                    of: name,
                    to: password,
                    currentPassword: nil,
                    keepingSession: identity.tokenID,
                    actor: identity.user
                )
            }
            return Response(status: .noContent)
        }
        group.get("tokens") { _, context in
            let identity = try context.requireIdentity()
            return try Self.json(try await store.tokens(of: identity.role == .admin ? nil : identity.user))
        }
        group.post("tokens") { request, context in
            // Read-only principals mint nothing: a token of theirs would outlive their own revocation.
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let name = try Self.field("name", in: body)
            var role = identity.role
            if case .scalar(let text, _) = body["role"] {
                guard let asked = Role(rawValue: text) else {
                    throw ConsoleError.invalid([
                        ConfigurationIssue(
                            path: "role",
                            message: "\(DisplayText.quoted(text, limit: 80)) is not admin or read-only"
                        )
                    ])
                }
                role = asked
            }
            let (token, info) = try await store.createToken(by: identity, name: name, role: role)
            return try Self.json(TokenCreated(token: token, info: info), status: .created)
        }
        group.delete("tokens/:id") { _, context in
            let identity = try context.requireIdentity()
            let id = try context.parameters.require("id")
            // A read-only principal may end its own session or token (log out), and nothing else.
            guard identity.role == .admin || id == identity.tokenID else {
                throw ConsoleError.forbidden("a read-only token can revoke only itself (token \(identity.tokenID))")
            }
            try await store.deleteToken(id, actor: identity.user)
            return Response(status: .noContent)
        }
    }

    // MARK: - Helpers

    struct SiteSummary: Codable {
        var name: String
        var version: Int
    }

    struct TokenCreated: Codable {
        /// Shown once: the console keeps only its hash.
        var token: String
        var info: TokenInfo
    }

    struct WhoAmI: Codable {
        var user: String
        var role: Role
        var token: String
    }

    /// The limits of a request body: 1 MiB, and the site's limits of depth, nodes and list lengths.
    static let bodyLimits = DocumentLimits(
        maximumBytes: Self.maximumBody,
        maximumDepth: DocumentLimits.site.maximumDepth,
        maximumNodes: DocumentLimits.site.maximumNodes,
        maximumItems: DocumentLimits.site.maximumItems
    )

    /// The request body as a configuration tree: JSON when the body says it is (`application/json` or
    /// `…+json`), else YAML (`application/yaml`, or no type), both within ``bodyLimits``.
    static func body(_ request: Request, _ context: ConsoleRequestContext) async throws -> ConfigNode {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maximumBody)
        } catch {
            throw ConsoleError.badRequest("the body is larger than \(Self.maximumBody) bytes")
        }
        let text = String(buffer: buffer)
        let json = Self.isJSON(request.headers[.contentType])
        do {
            return json
                ? try ConfigNode.parse(json: text, limits: Self.bodyLimits)
                : try ConfigNode.parse(yaml: text, limits: Self.bodyLimits)
        } catch {
            throw ConsoleError.badRequest("the body is not \(json ? "JSON" : "YAML"): \(error.description)")
        }
    }

    /// Whether a `Content-Type` names JSON: `application/json` or a `+json` type, parameters aside.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type =
            contentType.split(separator: ";", maxSplits: 1).first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
        return type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json"))
    }

    /// A required text field of a body.
    static func field(_ key: String, in body: ConfigNode) throws(ConsoleError) -> String {
        guard case .scalar(let text, _) = body[key], !text.isEmpty else {
            throw .invalidRequest([ConfigurationIssue(path: key, message: "required")])
        }
        return text
    }

    /// The version a change is based on: `If-Match: "7"` (or `7`).
    static func baseVersion(_ request: Request) throws(ConsoleError) -> Int {
        guard let value = request.headers[.ifMatch] else { throw .versionRequired }
        let trimmed = value.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/"))
        guard let version = Int(trimmed) else {
            throw .badRequest("If-Match \(value.prefix(40)) is not a site version such as \"7\"")
        }
        return version
    }

    static func version(_ context: ConsoleRequestContext) throws -> Int {
        let text = try context.parameters.require("version")
        guard let version = Int(text) else {
            throw ConsoleError.badRequest("\(text.prefix(40)) is not a version number")
        }
        return version
    }

    static func collection(_ context: ConsoleRequestContext) throws -> SiteCollection {
        let text = try context.parameters.require("collection")
        guard let collection = SiteCollection(rawValue: text) else {
            throw ConsoleError.notFound(
                "no such list: \(text.prefix(40)) (gateways, devices, virtual-servers, certificates, versions, export)"
            )
        }
        return collection
    }

    static func document(_ node: ConfigNode, version: Int, status: HTTPResponse.Status = .ok) -> Response {
        var response = Self.text(node.json() + "\n", contentType: "application/json", status: status)
        response.headers[.eTag] = "\"\(version)\""
        return response
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8)))
        )
    }

    static func text(
        _ text: String,
        contentType: String = "text/plain; charset=utf-8",
        status: HTTPResponse.Status = .ok
    ) -> Response {
        Response(
            status: status,
            headers: [.contentType: contentType],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}

/// Checks `Authorization: Bearer <token>` and puts the identity into the context; without a valid token the
/// request ends with 401.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let store: ConsoleStore

    func handle(
        _ request: Request,
        context: ConsoleRequestContext,
        next: (Request, ConsoleRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw ConsoleError.unauthorized(
                "authentication required: Authorization: Bearer <token> (POST /api/v1/login gives one)"
            )
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let identity = try await self.store.identity(forToken: token) else {
            throw ConsoleError.unauthorized("the token is unknown, revoked or expired")
        }
        var context = context
        context.identity = identity
        return try await next(request, context)
    }
}

/// Checks a device's `Authorization: Bearer <credential>` on `/agent/v1` and puts the device into the context.
struct AgentAuthenticationMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let store: ConsoleStore

    func handle(
        _ request: Request,
        context: ConsoleRequestContext,
        next: (Request, ConsoleRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
            let agent = try await self.store.agent(
                forCredential: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            )
        else {
            throw ConsoleError.unauthorized(
                "the device credential is missing, unknown or replaced: enrol again with a new join token"
            )
        }
        var context = context
        context.agent = agent
        return try await next(request, context)
    }
}

extension ConsoleError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: self.statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let issues = self.issues.map { ErrorBody.Issue(path: $0.path, message: $0.message) }
        var response = try ConsoleAPI.json(
            ErrorBody(error: self.description, issues: issues.isEmpty ? nil : issues),
            status: HTTPResponse.Status(code: self.statusCode)
        )
        if self.statusCode == 401 { response.headers[.wwwAuthenticate] = "Bearer realm=\"halb\"" }
        if let seconds = self.retryAfter { response.headers[.retryAfter] = "\(seconds)" }
        return response
    }
}

/// The body of every error answer: the reason, and for an invalid site every issue with its path.
struct ErrorBody: Encodable {
    struct Issue: Encodable {
        var path: String
        var message: String
    }

    var error: String
    var issues: [Issue]?
}
