import AsyncHTTPClient
import Foundation
import HALBAgent
import HALBCore
import HALBWire
import NIOCore
import NIOHTTP1

/// The console's REST API as the admin commands use it.
public struct ConsoleClient: Sendable {
    public let login: ConsoleLogin

    public init(login: ConsoleLogin) {
        self.login = login
    }

    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        public var etag: Int?

        /// The body as one of the API's bodies (HALBWire).
        ///
        /// - Throws: ``ClientError`` when it is not one.
        public func decode<Body: Decodable>(_ type: Body.Type) throws -> Body {
            do {
                return try JSONDecoder().decode(Body.self, from: Data(self.body.utf8))
            } catch {
                throw ClientError("the console's answer is not understood: \(DisplayText.quoted(self.body, limit: 80))")
            }
        }

        /// The body as a site's document or one of its items (JSON), read within the site's limits.
        public func document() throws -> ConfigNode {
            do {
                return try ConfigNode.parse(json: self.body)
            } catch {
                throw ClientError("the console's answer is not understood: \(error.description)")
            }
        }
    }

    /// Sends a request; a 4xx or 5xx answer becomes a ``ClientError`` with the console's reason and every issue.
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        body: String? = nil,
        ifMatch: Int? = nil,
        authenticated: Bool = true
    ) async throws -> Answer {
        let base = self.login.console.hasSuffix("/") ? String(self.login.console.dropLast()) : self.login.console
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if authenticated { request.headers.add(name: "Authorization", value: "Bearer \(self.login.token)") }
        if let ifMatch { request.headers.add(name: "If-Match", value: "\"\(ifMatch)\"") }
        if let body {
            // The console reads a JSON body as JSON only; a site file in YAML goes as YAML.
            let json = (try? ConfigNode.parse(json: body)) != nil
            request.headers.add(name: "Content-Type", value: json ? "application/json" : "application/yaml")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let answer: Answer
        let http = try ConsoleTLS.client(trusting: self.login.ca)
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            let buffer = try await response.body.collect(upTo: 16 << 20)
            let etag = response.headers.first(name: "ETag").flatMap {
                Int($0.trimmingCharacters(in: CharacterSet(charactersIn: "\" W/")))
            }
            answer = Answer(status: Int(response.status.code), body: String(buffer: buffer), etag: etag)
            try? await http.shutdown()
        } catch {
            try? await http.shutdown()
            throw ClientError("cannot reach the console at \(base): \(ConnectionFailure.describe(error))")
        }
        guard answer.status < 400 else { throw Self.error(answer) }
        return answer
    }

    /// A change to `site`, based on its current version (`If-Match`): one that crosses another admin's fails (412).
    public func change(
        _ method: HTTPMethod,
        _ path: String,
        of site: String,
        body: String? = nil
    ) async throws -> Answer {
        let current = try await self.send(.GET, "/api/v1/sites/\(site)")
        return try await self.send(method, path, body: body, ifMatch: current.etag)
    }

    private static func error(_ answer: Answer) -> ClientError {
        let data = Data(answer.body.utf8)
        guard let body = try? JSONDecoder().decode(ErrorBody.self, from: data) else {
            // Hummingbird's own answer (an unknown path, a method not allowed): `{"error": {"message": ...}}`.
            let reason = (try? JSONDecoder().decode(HummingbirdError.self, from: data))?.error.message
            return ClientError(reason ?? "the console answered \(answer.status): \(answer.body.prefix(300))")
        }
        var lines = [body.error]
        if let issues = body.issues {
            lines = ["the change was refused; nothing was stored:"]
            for issue in issues {
                lines.append("  \(issue.path.isEmpty ? issue.message : "\(issue.path): \(issue.message)")")
            }
        }
        if answer.status == 401 { lines.append("(log in again: halb login)") }
        return ClientError(lines.joined(separator: "\n"))
    }
}

/// The error body Hummingbird writes itself, before the console's routes.
private struct HummingbirdError: Decodable {
    struct Message: Decodable {
        var message: String
    }

    var error: Message
}
