import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

struct VersionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versions",
        abstract: "Show a site's history, newest first."
    )
    @OptionGroup var options: AdminOptions

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let answer = try await client.send(.GET, "/api/v1/sites/\(site)/versions")
            try self.options.print(answer, as: [SiteVersionInfo].self) { versions in
                Table.render(
                    ["VERSION", "TIME", "AUTHOR", "CHANGE"],
                    versions.map { ["\($0.version)", $0.createdAt, $0.author, $0.change] }
                )
            }
        }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make an old version of a site current again (as a new version)."
    )
    @OptionGroup var options: AdminOptions
    @Argument(help: "The version to go back to.") var version: Int

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let answer = try await client.change(
                .POST,
                "/api/v1/sites/\(site)/versions/\(self.version)/rollback",
                of: site
            )
            print("Site \(site) is back at version \(self.version)'s settings, as version \(answer.etag ?? 0).")
        }
    }
}
