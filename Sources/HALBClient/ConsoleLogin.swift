import Foundation

/// Where the admin commands find the console and their token: `HALB_CONSOLE`, `HALB_TOKEN` and `HALB_CONSOLE_CA`
/// override what `halb login` saved in the user's config folder.
public struct ConsoleLogin: Codable, Sendable {
    public var console: String
    public var token: String
    /// The PEM file of CA certificates an https:// console is trusted by (`nil`: the system's).
    public var ca: String? = nil

    public init(console: String, token: String, ca: String? = nil) {
        self.console = console
        self.token = token
        self.ca = ca
    }

    /// `$XDG_CONFIG_HOME/halb/login.json`, else `$HOME/.config/halb/login.json`, else the same under the account's
    /// home directory. As the XDG base directory specification says, an empty or relative `XDG_CONFIG_HOME` is
    /// ignored.
    public static var file: URL {
        Self.file(environment: ProcessInfo.processInfo.environment)
    }

    public static func file(environment: [String: String]) -> URL {
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
    public static func current(console option: String?) throws -> ConsoleLogin {
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
    public func save() throws {
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
