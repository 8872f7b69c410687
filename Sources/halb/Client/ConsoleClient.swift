import AsyncHTTPClient
import Foundation
import HALBAgent
import HALBCore
import HALBWire
import NIOCore
import NIOHTTP1

/// Where the admin commands find the console and their token: `HALB_CONSOLE`, `HALB_TOKEN` and `HALB_CONSOLE_CA`
/// override what `halb login` saved in the user's config folder.
struct ConsoleLogin: Codable {
    var console: String
    var token: String
    /// The PEM file of CA certificates an https:// console is trusted by (`nil`: the system's).
    var ca: String? = nil

    /// `$XDG_CONFIG_HOME/halb/login.json`, else `$HOME/.config/halb/login.json`, else the same under the account's
    /// home directory. As the XDG base directory specification says, an empty or relative `XDG_CONFIG_HOME` is
    /// ignored.
    static var file: URL {
        Self.file(environment: ProcessInfo.processInfo.environment)
    }

    static func file(environment: [String: String]) -> URL {
        let base: URL
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") {
            base = URL(fileURLWithPath: config)
        } else if let home = environment["HOME"], !home.isEmpty {
            base = URL(fileURLWithPath: home).appendingPathComponent(".config")
        } else {
            base = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config")
        }
        return base.appendingPathComponent("halb/login.json")
    }

    /// The saved login with the environment's overrides, and `console` (an option) over both.
    static func current(console option: String?) throws -> ConsoleLogin {
        // An empty variable is an unset one.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        let saved = (try? Data(contentsOf: Self.file)).flatMap {
            try? JSONDecoder().decode(ConsoleLogin.self, from: $0)
        }
        guard let console = option ?? environment["HALB_CONSOLE"] ?? saved?.console else {
            throw ClientError(
                "no console: run `halb login --console URL --user NAME`, or set HALB_CONSOLE and HALB_TOKEN"
            )
        }
        guard let token = environment["HALB_TOKEN"] ?? saved?.token else {
            throw ClientError("not logged in: run `halb login --console \(console) --user NAME`, or set HALB_TOKEN")
        }
        let ca = environment["HALB_CONSOLE_CA"] ?? (saved?.console == console ? saved?.ca : nil)
        return ConsoleLogin(console: console, token: token, ca: ca)
    }

    /// Saves the login, readable by the user only.
    func save() throws {
        let directory = Self.file.deletingLastPathComponent()
        try FileManager.default.createDirectory(
            at: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let data = try JSONEncoder().encode(self)
        guard
            FileManager.default.createFile(
                atPath: Self.file.path,
                contents: data,
                attributes: [.posixPermissions: 0o600]
            )
        else {
            throw ClientError("cannot write \(Self.file.path)")
        }
        // An existing file keeps its mode on rewrite; make sure it is private.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: Self.file.path)
    }
}

/// A failure of an admin command, printed as `halb: <message>`.
struct ClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The console's REST API as the admin commands use it.
struct ConsoleClient {
    let login: ConsoleLogin

    struct Answer {
        var status: Int
        var body: String
        var etag: Int?

        /// The body as one of the API's bodies (HALBWire).
        ///
        /// - Throws: ``ClientError`` when it is not one.
        func decode<Body: Decodable>(_ type: Body.Type) throws -> Body {
            do {
                return try JSONDecoder().decode(Body.self, from: Data(self.body.utf8))
            } catch {
                throw ClientError("the console's answer is not understood: \(DisplayText.quoted(self.body, limit: 80))")
            }
        }

        /// The body as a site's document or one of its items (JSON), read within the site's limits.
        func document() throws -> ConfigNode {
            do {
                return try ConfigNode.parse(json: self.body)
            } catch {
                throw ClientError("the console's answer is not understood: \(error.description)")
            }
        }
    }

    /// Sends a request; a 4xx or 5xx answer becomes a ``ClientError`` with the console's reason and every issue.
    func send(
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

    /// A change to `site`, based on its current version (`If-Match`): one that crosses another admin's fails (409).
    func change(_ method: HTTPMethod, _ path: String, of site: String, body: String? = nil) async throws -> Answer {
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

/// Prints rows as aligned columns under a header.
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in
            all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0
        }
        return all.map { row in
            row.indices.map { column in
                column == row.count - 1
                    ? row[column] : row[column].padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
