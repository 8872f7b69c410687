import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Log in to a console and keep the token for the other admin commands.",
        discussion: """
            The password comes from HALB_PASSWORD or is asked for. The token (valid 12 hours) is kept in \
            $XDG_CONFIG_HOME/halb/login.json (or $HOME/.config/halb/login.json), readable by you only, with --ca. \
            Scripts may instead set HALB_CONSOLE and HALB_TOKEN (an API token from `halb token create`), and \
            HALB_CONSOLE_CA for an https:// console with its own CA.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The console's URL, such as http://127.0.0.1:8440.", valueName: "url"))
    var console: String

    @Option(name: .long, help: "The user name.")
    var user: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "For an https:// console: trust only the CA certificates in this PEM file (kept with the login).",
            valueName: "file"
        )
    )
    var ca: String?

    func run() async throws {
        try await runAdmin {
            let password = try readPassword("Password for \(self.user)", from: "HALB_PASSWORD")
            let body = try jsonBody(LoginRequest(user: self.user, password: password))
            let ca =
                self.ca.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
                ?? ProcessInfo.processInfo.environment["HALB_CONSOLE_CA"]
            let client = ConsoleClient(login: ConsoleLogin(console: self.console, token: "", ca: ca))
            let answer = try await client.send(.POST, "/api/v1/login", body: body, authenticated: false)
            let created = try answer.decode(TokenCreated.self)
            try ConsoleLogin(console: self.console, token: created.token, ca: ca).save()
            print("Logged in to \(self.console) as \(self.user) (\(created.info.role.rawValue)).")
        }
    }
}
