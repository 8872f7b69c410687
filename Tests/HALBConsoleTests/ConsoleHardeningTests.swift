import Foundation
import HALBConsole
import HALBCore
import HALBWire
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// A clock the test moves by hand.
private final class ManualClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    var now: ContinuousClock.Instant { self.instant.withLock { $0 } }

    func advance(by duration: Duration) {
        self.instant.withLock { $0 += duration }
    }
}

/// A "billion laughs" body: nine levels of nine aliases, 387 million nodes once expanded.
private let laughs: String = {
    var yaml = "a0: &a0 [lol]\n"
    for level in 1...9 {
        yaml += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ",") + "]\n"
    }
    return yaml
}()

/// The console's API under hostile or careless use, in process, against a real SQLite file.
@Suite(.timeLimit(.minutes(2))) struct ConsoleHardeningTests {
    private func withConsole(
        clock: ManualClock = ManualClock(),
        _ body: @Sendable (any TestClientProtocol, _ admin: String, _ store: ConsoleStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-console-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ConsoleStore(directory: directory)
        _ = try await store.createFirstAdmin(password: "correct horse battery")
        let app = Application(router: ConsoleAPI.router(store: store, throttle: PasswordGuard(now: { clock.now })))
        try await app.test(.router) { client in
            let admin = try await self.logIn(client, "admin", "correct horse battery").token
            try await body(client, admin, store)
        }
    }

    private func logIn(
        _ client: any TestClientProtocol,
        _ user: String,
        _ password: String
    ) async throws -> (
        token: String, status: HTTPResponse.Status, retryAfter: String?
    ) {
        try await client.execute(
            uri: "/api/v1/login",
            method: .post,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: #"{"user": "\#(user)", "password": "\#(password)"}"#)
        ) { response in
            let object =
                try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            return (object?["token"] as? String ?? "", response.status, response.headers[.retryAfter])
        }
    }

    private func send(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String,
        _ body: String? = nil
    ) async throws -> (status: HTTPResponse.Status, body: [String: Any]) {
        try await client.execute(
            uri: uri,
            method: method,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) }
        ) { response in
            let object =
                try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            return (response.status, object ?? [:])
        }
    }

    private func tokenID(_ client: any TestClientProtocol, _ token: String) async throws -> String {
        try #require(try await self.send(client, .get, "/api/v1/whoami", token: token).body["token"] as? String)
    }

    // MARK: - Bodies

    @Test func aBillionLaughsIsRefusedAtOnceWhateverTheContentType() async throws {
        try await self.withConsole { client, _, _ in
            for (uri, type) in [
                ("/api/v1/login", "application/json"), ("/api/v1/login", "application/yaml"),
                ("/agent/v1/enrol", "application/json"),
                ("/agent/v1/enrol", "text/plain"),
            ] {
                try await client.execute(
                    uri: uri,
                    method: .post,
                    headers: [.contentType: type],
                    body: ByteBuffer(string: laughs)
                ) { response in
                    #expect(response.status == .badRequest, "\(uri) \(type)")
                    let text = String(buffer: response.body)
                    #expect(
                        type == "application/json"
                            ? text.contains("JSON syntax error") : text.contains("more than 250000 values"),
                        "\(text)"
                    )
                }
            }
        }
    }

    // MARK: - Roles

    @Test func aReadOnlyTokenOfTheAdminChangesNothing() async throws {
        try await self.withConsole { client, admin, store in
            let adminSession = try await self.tokenID(client, admin)
            let created = try await self.send(
                client,
                .post,
                "/api/v1/tokens",
                token: admin,
                #"{"name": "viewer", "role": "read-only"}"#
            )
            #expect(created.status == .created)
            let readOnly = try #require(created.body["token"] as? String)

            // Not the admin's session, not the admin's password, no new tokens.
            #expect(
                try await self.send(client, .delete, "/api/v1/tokens/\(adminSession)", token: readOnly).status
                    == .forbidden
            )
            let password = #"{"password": "a password of mine", "currentPassword": "correct horse battery"}"#
            #expect(
                try await self.send(client, .put, "/api/v1/users/admin/password", token: readOnly, password).status
                    == .forbidden
            )
            #expect(
                try await self.send(
                    client,
                    .post,
                    "/api/v1/tokens",
                    token: readOnly,
                    #"{"name": "x", "role": "read-only"}"#
                ).status == .forbidden
            )
            #expect(
                try await self.send(client, .post, "/api/v1/tokens", token: readOnly, #"{"name": "x"}"#).status
                    == .forbidden
            )

            // The admin is still logged in with the same password, and no token was minted.
            #expect(try await self.send(client, .get, "/api/v1/whoami", token: admin).status == .ok)
            #expect(try await store.logIn("admin", password: "correct horse battery").token.hasPrefix("halb_"))
            #expect(try await store.tokens(of: nil).filter { $0.kind == "api" }.map(\.name) == ["viewer"])

            // It may log itself out.
            let own = try await self.tokenID(client, readOnly)
            #expect(try await self.send(client, .delete, "/api/v1/tokens/\(own)", token: readOnly).status == .noContent)
            #expect(try await self.send(client, .get, "/api/v1/whoami", token: readOnly).status == .unauthorized)
        }
    }

    /// What docs/console.md says a read-only principal reads: every GET but the list of users.
    @Test func aReadOnlyTokenReadsEverythingButTheUserList() async throws {
        try await self.withConsole { client, admin, store in
            _ = try await store.createSite(
                try ConfigNode.parse(
                    yaml: "site: lab\ngateways: [{ name: gw1, address: 192.0.2.21, ports: { gateway: 80 } }]\n"
                ),
                actor: "admin"
            )
            let created = try await self.send(
                client,
                .post,
                "/api/v1/tokens",
                token: admin,
                #"{"name": "viewer", "role": "read-only"}"#
            )
            let readOnly = try #require(created.body["token"] as? String)
            for path in [
                "/api/v1/whoami", "/api/v1/sites", "/api/v1/sites/lab", "/api/v1/sites/lab/export",
                "/api/v1/sites/lab/versions",
                "/api/v1/sites/lab/versions/1", "/api/v1/sites/lab/gateways", "/api/v1/sites/lab/gateways/gw1",
                "/api/v1/sites/lab/status", "/api/v1/sites/lab/certificates", "/api/v1/audit", "/api/v1/tokens",
            ] {
                #expect(try await self.send(client, .get, path, token: readOnly).status == .ok, "\(path)")
            }
            #expect(try await self.send(client, .get, "/api/v1/users", token: readOnly).status == .forbidden)
        }
    }

    @Test func aReadOnlyUserChangesItsOwnPasswordOnlyThroughItsSession() async throws {
        try await self.withConsole { client, admin, _ in
            let user = #"{"name": "viewer", "password": "viewer password 1", "role": "read-only"}"#
            #expect(try await self.send(client, .post, "/api/v1/users", token: admin, user).status == .created)
            let session = try await self.logIn(client, "viewer", "viewer password 1").token
            let change = #"{"password": "viewer password 2", "currentPassword": "viewer password 1"}"#
            #expect(
                try await self.send(client, .put, "/api/v1/users/viewer/password", token: session, change).status
                    == .noContent
            )
            #expect(try await self.logIn(client, "viewer", "viewer password 2").status == .created)
        }
    }

    @Test func aTokenMadeWithATokenDiesWithIt() async throws {
        try await self.withConsole { client, admin, store in
            let parent = try #require(
                try await self.send(client, .post, "/api/v1/tokens", token: admin, #"{"name": "automation"}"#).body[
                    "token"
                ] as? String
            )
            let child = try #require(
                try await self.send(
                    client,
                    .post,
                    "/api/v1/tokens",
                    token: parent,
                    #"{"name": "job", "role": "read-only"}"#
                ).body["token"]
                    as? String
            )
            #expect(try await self.send(client, .get, "/api/v1/whoami", token: child).status == .ok)
            // A token made in a login session belongs to the user: logging out does not end it.
            let session = try await self.tokenID(client, admin)
            #expect(
                try await self.send(client, .delete, "/api/v1/tokens/\(session)", token: admin).status == .noContent
            )
            #expect(try await self.send(client, .get, "/api/v1/whoami", token: parent).status == .ok)
            // A token made with a token is revoked with it.
            let parentID = try await self.tokenID(client, parent)
            #expect(
                try await self.send(client, .delete, "/api/v1/tokens/\(parentID)", token: parent).status == .noContent
            )
            #expect(try await self.send(client, .get, "/api/v1/whoami", token: child).status == .unauthorized)
            #expect(try await store.identity(forToken: child) == nil)
        }
    }

    // MARK: - Password guessing

    @Test func guessingPasswordsIsSlowedRecordedAndTheRightfulUserGetsBackIn() async throws {
        let clock = ManualClock()
        try await self.withConsole(clock: clock) { client, admin, store in
            // Five free failures from this address, then a growing wait.
            for _ in 0..<5 {
                #expect(try await self.logIn(client, "admin", "wrong guess").status == .unauthorized)
            }
            #expect(try await self.logIn(client, "admin", "wrong guess").status == .unauthorized)
            var answer = try await self.logIn(client, "admin", "correct horse battery")
            #expect(answer.status == .tooManyRequests)
            #expect(answer.retryAfter == "1")
            clock.advance(by: .seconds(1))
            #expect(try await self.logIn(client, "admin", "wrong guess").status == .unauthorized)
            answer = try await self.logIn(client, "admin", "wrong guess")
            #expect(answer.status == .tooManyRequests)
            #expect(answer.retryAfter == "2")
            // A wrong current password is a guess too: it waits with the rest.
            let change = #"{"password": "a password of mine", "currentPassword": "wrong guess"}"#
            #expect(
                try await self.send(client, .put, "/api/v1/users/admin/password", token: admin, change).status
                    == .tooManyRequests
            )

            // Once the wait is over, the right password gets in and clears the back-off.
            clock.advance(by: .seconds(2))
            #expect(try await self.logIn(client, "admin", "correct horse battery").status == .created)
            #expect(try await self.logIn(client, "admin", "wrong guess").status == .unauthorized)
            #expect(try await self.logIn(client, "admin", "correct horse battery").status == .created)

            let failed = try await store.audit().filter { $0.action == "login-failed" }
            #expect(failed.count == 8)
            #expect(failed.allSatisfy { $0.target == "user admin" && $0.detail == "from unknown" })
        }
    }
}

@Suite struct LoginThrottleTests {
    private let start = ContinuousClock.now

    @Test func theWaitDoublesUpToItsCeilingAndAQuietPeriodForgets() {
        var throttle = LoginThrottle()
        var now = self.start
        var waits: [Duration] = []
        // From many addresses, so that only the user's key counts past its 10 free failures.
        for attempt in 0..<20 {
            if let wait = throttle.failed(user: "admin", address: "198.51.100.\(attempt)", now: now) {
                waits.append(wait)
                now += wait
            }
        }
        #expect(waits.map { $0.components.seconds } == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30])
        now += LoginThrottle.quietReset + .seconds(1)
        #expect(throttle.wait(user: "admin", address: "198.51.100.99", now: now) == nil)
        #expect(throttle.failed(user: "admin", address: "198.51.100.99", now: now) == nil)
    }

    @Test func aGuesserElsewhereDoesNotLockTheUserOutOfAKnownAddress() {
        var throttle = LoginThrottle()
        throttle.succeeded(user: "admin", address: "192.0.2.5")
        for attempt in 0..<30 {
            throttle.failed(user: "admin", address: "203.0.113.\(attempt)", now: self.start)
        }
        #expect(throttle.wait(user: "admin", address: "203.0.113.200", now: self.start) != nil)
        #expect(throttle.wait(user: "admin", address: "192.0.2.5", now: self.start) == nil)
    }

    @Test func oneAddressGuessingManyUsersWaitsUpToAQuarterOfAnHour() {
        var throttle = LoginThrottle()
        var longest: Duration = .zero
        for attempt in 0..<40 {
            longest = max(
                longest,
                throttle.failed(user: "user\(attempt)", address: "203.0.113.7", now: self.start) ?? .zero
            )
        }
        #expect(longest == .seconds(15 * 60))
        #expect(throttle.wait(user: "someone-else", address: "203.0.113.7", now: self.start) != nil)
    }
}
