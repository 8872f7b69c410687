import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

struct SiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site",
        abstract: "List, show (as a site file), create or delete the console's sites.",
        subcommands: [List.self, Show.self, Create.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the sites with their versions.")
        @OptionGroup var options: AdminOptions

        func run() async throws {
            try await runAdmin {
                let answer = try await self.options.client().send(.GET, "/api/v1/sites")
                try self.options.print(answer, as: [SiteSummary].self) { sites in
                    Table.render(["SITE", "VERSION"], sites.map { [$0.name, "\($0.version)"] })
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a site as the YAML a standalone device reads (JSON with --json)."
        )
        @OptionGroup var options: AdminOptions

        func run() async throws {
            try await runAdmin {
                let (client, site) = try await self.options.session()
                let answer = try await client.send(
                    .GET,
                    self.options.json ? "/api/v1/sites/\(site)" : "/api/v1/sites/\(site)/export"
                )
                print(answer.body, terminator: answer.body.hasSuffix("\n") ? "" : "\n")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a site from a site file (YAML or JSON; - for standard input)."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The site file.") var file: String

        func run() async throws {
            try await runAdmin {
                let answer = try await self.options.client().send(.POST, "/api/v1/sites", body: try readBody(self.file))
                print("Created site \(documentName(answer, key: "site")) (version \(answer.etag ?? 1)).")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a site and its history.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The site's name (repeated, as a safeguard).") var name: String

        func run() async throws {
            try await runAdmin {
                _ = try await self.options.client().change(.DELETE, "/api/v1/sites/\(self.name)", of: self.name)
                print("Deleted site \(self.name).")
            }
        }
    }
}
