import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

/// Options every admin command shares: which console, which site, and the output format.
struct AdminOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The console's URL (default: HALB_CONSOLE, or the one of `halb login`).", valueName: "url")
    )
    var console: String?

    @Option(name: .long, help: "The site (default: the console's only site).")
    var site: String?

    @Flag(name: .long, help: "Print JSON (for scripts) instead of a table.")
    var json = false

    func client() throws -> ConsoleClient {
        ConsoleClient(login: try ConsoleLogin.current(console: self.console))
    }

    /// The client and the site to work on.
    func session() async throws -> (client: ConsoleClient, site: String) {
        let client = try self.client()
        return (client, try await self.siteName(client))
    }

    /// The site to work on: `--site`, or the only one there is.
    func siteName(_ client: ConsoleClient) async throws -> String {
        if let site = self.site { return site }
        let sites = try await client.send(.GET, "/api/v1/sites").decode([SiteSummary].self).map(\.name)
        guard sites.count == 1 else {
            throw ClientError(
                sites.isEmpty
                    ? "the console has no site yet: halb site create FILE"
                    : "several sites (\(sites.joined(separator: ", "))): give --site"
            )
        }
        return sites[0]
    }

    /// Prints the token of a token-issuing answer alone (for `$(...)` in scripts), or the whole answer with --json.
    func printToken<Body: Decodable>(_ answer: ConsoleClient.Answer, _ type: Body.Type, token: (Body) -> String) throws
    {
        if self.json {
            Swift.print(answer.body, terminator: "")
        } else {
            Swift.print(token(try answer.decode(Body.self)))
        }
    }

    /// Prints `answer`'s body as JSON, or `table` of it read as a `Body`.
    func print<Body: Decodable>(_ answer: ConsoleClient.Answer, as type: Body.Type, table: (Body) -> String) throws {
        if self.json {
            Swift.print(answer.body.trimmingCharacters(in: .newlines))
        } else {
            Swift.print(table(try answer.decode(Body.self)), terminator: "")
        }
    }

    /// Prints a list of site items as JSON, or as a table of `Kind`'s rows.
    func printItems<Kind: SiteListKind>(_ answer: ConsoleClient.Answer, _ kind: Kind.Type) throws {
        if self.json {
            Swift.print(answer.body.trimmingCharacters(in: .newlines))
            return
        }
        guard case .sequence(let nodes) = try answer.document() else {
            throw ClientError("the console's answer is not a list of \(Kind.noun)s")
        }
        let rows = try nodes.map { node in
            do {
                return try Kind.row(node)
            } catch {
                throw ClientError("the console's answer is not understood: \(error)")
            }
        }
        Swift.print(Table.render(Kind.header, rows), terminator: "")
    }
}

/// Runs an admin command, turning its failure into `halb: <message>` and exit status 1.
func runAdmin(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ClientError {
        throw CommandFailure.exit(error.description)
    }
}

/// A request body (a HALBWire value, or text fields) as JSON.
func jsonBody(_ body: some Encodable) throws -> String {
    String(decoding: try JSONEncoder().encode(body), as: UTF8.self)
}

/// The name of the item or site a created document holds (`name`, or `site` for a whole site).
func documentName(_ answer: ConsoleClient.Answer, key: String = "name") -> String {
    guard case .mapping(let entries)? = try? answer.document(),
        case .scalar(let name, _)? = entries.first(where: { $0.key == key })?.value
    else { return "-" }
    return name
}

/// Reads a request body from a file, or standard input for `-`.
func readBody(_ file: String) throws -> String {
    if file == "-" {
        // Bounded like a file: the console takes at most 1 MiB anyway.
        let limit = DocumentLimits.site.maximumBytes
        var data = Data()
        while data.count <= limit, let chunk = try? FileHandle.standardInput.read(upToCount: 64 << 10), !chunk.isEmpty {
            data += chunk
        }
        guard data.count <= limit else {
            throw ClientError("standard input is larger than \(DocumentLimits.describe(bytes: limit))")
        }
        return String(decoding: data, as: UTF8.self)
    }
    do {
        return try SiteFile.read(path: file)
    } catch {
        throw ClientError("cannot read \(file): \(error)")
    }
}

/// A value in a table: `-` when absent, `yes` or `no` for a flag.
func text(_ value: (some CustomStringConvertible)?) -> String {
    guard let value else { return "-" }
    if let flag = value as? Bool { return flag ? "yes" : "no" }
    return value.description
}
