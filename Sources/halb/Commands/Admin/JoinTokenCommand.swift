import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

/// `halb join-token create NAME`: a one-time token to enrol a device with.
struct JoinTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join-token",
        abstract: "Create one-time join tokens to enrol devices with.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a one-time join token (valid 24 hours) for a device of the site.",
            discussion:
                "On the device: HALB_JOIN_TOKEN=TOKEN halb device --console URL --name NAME --state DIR (or --join-token-file FILE)"
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The device's name.") var name: String

        func run() async throws {
            try await runAdmin {
                let (client, site) = try await self.options.session()
                let answer = try await client.send(
                    .POST,
                    "/api/v1/sites/\(site)/join-tokens",
                    body: try jsonBody(JoinTokenRequest(device: self.name))
                )
                try self.options.printToken(answer, JoinTokenCreated.self) { $0.token }
            }
        }
    }
}
