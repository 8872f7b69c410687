import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print a whole site as the YAML a standalone device reads (halb device --config).",
        discussion: "The same as `halb site show`; `halb import` takes the file back."
    )
    @OptionGroup var options: AdminOptions

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let answer = try await client.send(.GET, "/api/v1/sites/\(site)/export")
            print(answer.body, terminator: answer.body.hasSuffix("\n") ? "" : "\n")
        }
    }
}

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Store a whole site file on the console: a new site, or with --replace a new version of its site.",
        discussion: """
            The site's name is the file's `site`. The console validates the whole file first; an invalid one \
            changes nothing and every error is printed with its path.
            """
    )
    @OptionGroup var options: AdminOptions
    @Argument(help: "The site file (YAML or JSON; - for standard input).") var file: String
    @Flag(name: .long, help: "Replace the site of the same name, as a new version.") var replace = false

    func run() async throws {
        try await runAdmin {
            let body = try readBody(self.file)
            let client = try self.options.client()
            guard self.replace else {
                let answer = try await client.send(.POST, "/api/v1/sites", body: body)
                print("Imported site \(documentName(answer, key: "site")) as version \(answer.etag ?? 1).")
                return
            }
            guard case .mapping(let entries)? = try? ConfigNode.parse(yaml: body),
                case .scalar(let site, _)? = entries.first(where: { $0.key == "site" })?.value
            else {
                throw ClientError("\(self.file): no `site` name to replace (the file must be a whole site)")
            }
            let answer = try await client.change(.PUT, "/api/v1/sites/\(site)", of: site, body: body)
            print("Imported site \(site) as version \(answer.etag ?? 0).")
        }
    }
}
