import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

/// A password from the environment variable `variable`, or typed (twice when `confirm`).
func readPassword(_ prompt: String, from variable: String, confirm: Bool = false) throws -> String {
    if let fromEnvironment = ProcessInfo.processInfo.environment[variable] { return fromEnvironment }
    guard let typed = getpass("\(prompt): ") else {
        throw ClientError("no password: set \(variable) or run in a terminal")
    }
    let first = String(cString: typed)
    if confirm {
        guard let again = getpass("Again: "), String(cString: again) == first else {
            throw ClientError("the two passwords differ")
        }
    }
    return first
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "List, create or delete the console's users, and change passwords.",
        subcommands: [List.self, Create.self, Delete.self, Password.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users with their roles (admin only).")
        @OptionGroup var options: AdminOptions

        func run() async throws {
            try await runAdmin {
                let answer = try await self.options.client().send(.GET, "/api/v1/users")
                try self.options.print(answer, as: [UserInfo].self) { users in
                    Table.render(["USER", "ROLE", "CREATED"], users.map { [$0.name, $0.role.rawValue, $0.createdAt] })
                }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user (admin only); the password comes from HALB_NEW_PASSWORD or is asked for."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The user's name.") var name: String
        @Flag(name: .long, help: "An admin instead of a read-only user.") var admin = false

        func run() async throws {
            try await runAdmin {
                let secret = try readPassword("Password for \(self.name)", from: "HALB_NEW_PASSWORD", confirm: true)
                let body = try jsonBody(
                    NewUser(name: self.name, password: secret, role: self.admin ? .admin : .readOnly)
                )
                _ = try await self.options.client().send(.POST, "/api/v1/users", body: body)
                print("Created user \(self.name) (\(self.admin ? "admin" : "read-only")).")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user and its tokens (admin only).")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The user's name.") var name: String

        func run() async throws {
            try await runAdmin {
                _ = try await self.options.client().send(.DELETE, "/api/v1/users/\(self.name)")
                print("Deleted user \(self.name).")
            }
        }
    }

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change your password, or as an admin set another user's.",
            discussion: """
                The new password comes from HALB_NEW_PASSWORD or is asked for twice; your current one (needed to \
                change your own) from HALB_PASSWORD or is asked for. The user's other login sessions end; API \
                tokens stay valid.
                """
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The user (default: you).") var name: String?

        func run() async throws {
            try await runAdmin {
                let client = try self.options.client()
                let me = try await client.send(.GET, "/api/v1/whoami").decode(WhoAmI.self).user
                let name = self.name ?? me
                var change = PasswordChange(
                    password: try readPassword("New password for \(name)", from: "HALB_NEW_PASSWORD", confirm: true)
                )
                if name == me {
                    change.currentPassword = try readPassword("Current password", from: "HALB_PASSWORD")
                }
                _ = try await client.send(.PUT, "/api/v1/users/\(name)/password", body: try jsonBody(change))
                print("Changed the password of \(name).")
            }
        }
    }
}
