import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create API tokens for scripts.",
        subcommands: [Create.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API token (printed once) for HALB_TOKEN.",
            discussion:
                "The token has your role, or read-only with --read-only. Revoke it with the API (DELETE /api/v1/tokens/ID)."
        )
        @OptionGroup var options: AdminOptions
        @Option(name: .long, help: "What the token is for.") var name: String
        @Flag(name: .long, help: "A read-only token.") var readOnly = false

        func run() async throws {
            try await runAdmin {
                let request = TokenRequest(name: self.name, role: self.readOnly ? .readOnly : nil)
                let answer = try await self.options.client().send(.POST, "/api/v1/tokens", body: try jsonBody(request))
                try self.options.printToken(answer, TokenCreated.self) { $0.token }
            }
        }
    }
}
