import Foundation
import HALBConsole
import HALBCore
import HALBWire
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import HALBConsole

/// What the web page relies on from the server: its files, served from memory with a strict policy; a session in
/// an HttpOnly cookie whose changes need the CSRF token; and the status long poll.
@Suite(.timeLimit(.minutes(2))) struct WebPageTests {
    private func withConsole(
        secureCookies: Bool = false,
        page: WebPage = .embedded,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let store = try ConsoleStore.inMemory()
        #expect(try await store.createFirstAdmin(password: "correct horse battery") == nil)
        _ = try await store.createUser("viewer", password: "viewer password 1", role: .readOnly, actor: "test")
        _ = try await store.createSite(try ConfigNode.parse(yaml: sampleSite), actor: "test")
        let app = Application(router: ConsoleAPI.router(store: store, secureCookies: secureCookies, webPage: page))
        try await app.test(.router, body)
    }

    private func signIn(
        _ client: any TestClientProtocol,
        _ user: String = "admin",
        _ password: String = "correct horse battery"
    ) async throws -> (cookie: String, csrf: String, setCookie: String) {
        try await client.execute(
            uri: "/api/v1/session",
            method: .post,
            body: ByteBuffer(string: #"{"user": "\#(user)", "password": "\#(password)"}"#)
        ) { response in
            #expect(response.status == .created)
            let session = try JSONDecoder().decode(SessionInfo.self, from: Data(response.body.readableBytesView))
            #expect(session.user == user)
            let setCookie = try #require(response.headers[.setCookie])
            let cookie = try #require(setCookie.split(separator: ";").first).description
            return (cookie, session.csrfToken, setCookie)
        }
    }

    @Test func thePageIsServedWithItsFilesUnderAHashedPrefixAStrictPolicyAndGzip() async throws {
        let script = Array(String(repeating: "export const answer = 42;\n", count: 200).utf8)
        let page = WebPage(files: [
            ("index.html", Array(#"<script type="module" src="%ASSETS%/app.js"></script>"#.utf8)),
            ("app.js", script),
            ("views/overview.js", Array("export {};\n".utf8)),
        ])
        try await self.withConsole(page: page) { client in
            let prefix = try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(response.headers[.cacheControl] == "no-cache")
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
                #expect(response.headers[.xFrameOptions] == "DENY")
                let html = String(buffer: response.body)
                #expect(!html.contains("%ASSETS%"))
                return try #require(html.firstMatch(of: /src="(\/ui\/[0-9a-f]{16})\/app\.js"/)?.1).description
            }
            try await client.execute(uri: "\(prefix)/app.js", method: .get, headers: [.acceptEncoding: "gzip, br"]) {
                #expect($0.status == .ok)
                #expect($0.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect($0.headers[.contentEncoding] == "gzip")
                #expect($0.headers[.cacheControl]?.contains("immutable") == true)
                #expect($0.body.readableBytes < script.count)
            }
            try await client.execute(uri: "\(prefix)/app.js", method: .get, headers: [.acceptEncoding: "gzip;q=0"]) {
                #expect($0.headers[.contentEncoding] == nil)
                #expect(Array($0.body.readableBytesView) == script)
            }
            try await client.execute(uri: "\(prefix)/views/overview.js", method: .get) { #expect($0.status == .ok) }
            // Another build's prefix, or a file that is not there: 404.
            try await client.execute(uri: "/ui/0000000000000000/app.js", method: .get) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "\(prefix)/../../etc/passwd", method: .get) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "\(prefix)/missing.js", method: .get) { #expect($0.status == .notFound) }
        }
        // A change to any file changes the prefix.
        let other = WebPage(files: [("index.html", Array("%ASSETS%".utf8)), ("app.js", script + [10])])
        #expect(other.prefix != page.prefix && other.prefix.hasPrefix("/ui/"))
    }

    /// The embedded page is the one in Sources/HALBConsole/Web/ (scripts/embed-web-page writes it).
    @Test func theEmbeddedFilesAreTheFilesOfTheWebFolder() throws {
        let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/HALBConsole/Web")
        var onDisk: [String: Data] = [:]
        let walker = try #require(FileManager.default.enumerator(at: web, includingPropertiesForKeys: nil))
        for case let url as URL in walker where !url.hasDirectoryPath && !url.lastPathComponent.hasPrefix(".") {
            let path = String(url.standardizedFileURL.path.dropFirst(web.standardizedFileURL.path.count + 1))
            onDisk[path] = try Data(contentsOf: url)
        }
        let embedded = Dictionary(
            uniqueKeysWithValues: WebPageFiles.files.map { ($0.path, Data(base64Encoded: $0.base64) ?? Data()) }
        )
        #expect(!onDisk.isEmpty)
        #expect(
            embedded == onDisk,
            "Sources/HALBConsole/WebPage/WebPageFiles.swift is not the Web/ folder: run scripts/embed-web-page"
        )
    }

    @Test func theBuiltInPageHasAnIndexAndEveryFileItNames() throws {
        let page = WebPage.embedded
        let index = try #require(page.index, "no index.html embedded")
        let html = String(buffer: index.body)
        for match in html.matches(of: /(?:src|href)="\/ui\/[0-9a-f]+\/([^"]+)"/) {
            #expect(page.assets[String(match.1)] != nil, "index.html names \(match.1), which is not embedded")
        }
        #expect(!html.contains("<script>") && !html.contains("style="), "inline script or style breaks the policy")
    }

    @Test func aSessionCookieIsHttpOnlyStrictAndSecureOverHTTPS() async throws {
        try await self.withConsole(secureCookies: true) { client in
            let session = try await self.signIn(client)
            for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
                #expect(session.setCookie.contains(attribute), "\(session.setCookie)")
            }
        }
        try await self.withConsole { client in
            #expect(try await !self.signIn(client).setCookie.contains("Secure"))
            try await client.execute(
                uri: "/api/v1/session",
                method: .post,
                body: ByteBuffer(string: #"{"user": "admin", "password": "wrong"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.setCookie] == nil)
            }
        }
    }

    @Test func aChangeByCookieNeedsTheCSRFTokenAndSigningOutEndsTheSession() async throws {
        try await self.withConsole { client in
            let session = try await self.signIn(client)
            let cookie: HTTPFields = [.cookie: session.cookie]
            try await client.execute(uri: "/api/v1/session", method: .get, headers: cookie) { response in
                #expect(response.status == .ok)
                let info = try JSONDecoder().decode(SessionInfo.self, from: Data(response.body.readableBytesView))
                #expect(info.csrfToken == session.csrf && info.role == .admin)
            }
            try await client.execute(uri: "/api/v1/sites/lab/gateways", method: .get, headers: cookie) {
                #expect($0.status == .ok)
            }
            let gateway = ByteBuffer(string: #"{"name": "gw9", "address": "192.0.2.29", "ports": {"gateway": 8080}}"#)
            // Without the token, or with another, the change is refused and nothing changes.
            let wrong = (session.csrf.hasPrefix("0") ? "1" : "0") + session.csrf.dropFirst()
            for token in [nil, wrong] {
                var headers = cookie
                headers[.ifMatch] = "\"1\""
                if let token { headers[.xCSRFToken] = String(token) }
                try await client.execute(
                    uri: "/api/v1/sites/lab/gateways",
                    method: .post,
                    headers: headers,
                    body: gateway
                ) { response in
                    #expect(response.status == .forbidden)
                    #expect(String(buffer: response.body).contains("CSRF"))
                }
            }
            try await client.execute(uri: "/api/v1/sites/lab/gateways/gw9", method: .get, headers: cookie) {
                #expect($0.status == .notFound)
            }
            var headers = cookie
            headers[.ifMatch] = "\"1\""
            headers[.xCSRFToken] = session.csrf
            try await client.execute(uri: "/api/v1/sites/lab/gateways", method: .post, headers: headers, body: gateway)
            {
                #expect($0.status == .created, "\(String(buffer: $0.body))")
            }
            // Signing out needs the token too, revokes the session and removes the cookie.
            try await client.execute(uri: "/api/v1/session", method: .delete, headers: cookie) {
                #expect($0.status == .forbidden)
            }
            var signOut = cookie
            signOut[.xCSRFToken] = session.csrf
            try await client.execute(uri: "/api/v1/session", method: .delete, headers: signOut) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
            try await client.execute(uri: "/api/v1/sites", method: .get, headers: cookie) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    @Test func aReadOnlySessionSeesButCannotChange() async throws {
        try await self.withConsole { client in
            let session = try await self.signIn(client, "viewer", "viewer password 1")
            let headers: HTTPFields = [.cookie: session.cookie, .xCSRFToken: session.csrf, .ifMatch: "\"1\""]
            try await client.execute(uri: "/api/v1/sites/lab", method: .get, headers: headers) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/api/v1/sites/lab/gateways/gw1", method: .delete, headers: headers) {
                #expect($0.status == .forbidden)
            }
        }
    }

    @Test func theStatusWaitsForAChangeWhenAskedAndBoundsTheWait() async throws {
        try await self.withConsole { client in
            let session = try await self.signIn(client)
            let cookie: HTTPFields = [.cookie: session.cookie]
            let first = try await client.execute(uri: "/api/v1/sites/lab/status", method: .get, headers: cookie) {
                response in
                #expect(response.status == .ok)
                return try JSONDecoder().decode(SiteStatus.self, from: Data(response.body.readableBytesView))
            }
            let fingerprint = try #require(first.fingerprint)
            // Nothing changes within the wait: the same status comes back after it.
            try await client.execute(
                uri: "/api/v1/sites/lab/status?wait=1&since=\(fingerprint)",
                method: .get,
                headers: cookie
            ) { response in
                let status = try JSONDecoder().decode(SiteStatus.self, from: Data(response.body.readableBytesView))
                #expect(status.fingerprint == fingerprint)
            }
            // A stale fingerprint answers at once with the current state.
            try await client.execute(
                uri: "/api/v1/sites/lab/status?wait=30&since=stale",
                method: .get,
                headers: cookie
            ) { response in
                let status = try JSONDecoder().decode(SiteStatus.self, from: Data(response.body.readableBytesView))
                #expect(status.fingerprint == fingerprint)
            }
            for wait in ["31", "-1", "soon"] {
                try await client.execute(
                    uri: "/api/v1/sites/lab/status?wait=\(wait)",
                    method: .get,
                    headers: cookie
                ) { response in
                    #expect(response.status == .unprocessableContent)
                    #expect(String(buffer: response.body).contains("wait"))
                }
            }
        }
    }
}
