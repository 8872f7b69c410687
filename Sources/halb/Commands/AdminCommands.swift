import ArgumentParser
import Foundation
import HALBCore
import HALBDevice
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
        throw DeviceRuntime.fail(error.description)
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

// MARK: - login

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

// MARK: - sites

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

// MARK: - gateways, devices, virtual servers

/// One list of a site the admin commands edit item by item.
protocol SiteListKind {
    /// `gateways`, `devices` or `virtual-servers`, as in the API.
    static var path: String { get }
    static var noun: String { get }
    static var header: [String] { get }
    /// A table row of one item, as the console answers it.
    static func row(_ item: ConfigNode) throws(ConfigurationError) -> [String]
}

enum GatewayList: SiteListKind {
    static let path = "gateways"
    static let noun = "gateway"
    static let header = ["NAME", "ADDRESS", "PORTS", "WEIGHT", "ENABLED", "DRAIN"]
    static func row(_ item: ConfigNode) throws(ConfigurationError) -> [String] {
        let gateway = try SiteReader.gateway(item)
        let ports = [
            ("clientManagement", gateway.ports.clientManagement), ("gateway", gateway.ports.gateway),
            ("ssl", gateway.ports.ssl), ("udp", gateway.ports.udp),
        ].compactMap { name, port in port.map { "\(name) \($0)" } }
        return [
            gateway.name, gateway.address, ports.joined(separator: ", "), text(gateway.weight), text(gateway.enabled),
            text(gateway.drain),
        ]
    }
}

enum DeviceList: SiteListKind {
    static let path = "devices"
    static let noun = "device"
    static let header = ["NAME", "ADDRESS", "INTERFACE"]
    static func row(_ item: ConfigNode) throws(ConfigurationError) -> [String] {
        let device = try SiteReader.device(item)
        return [device.name, device.address, device.interface]
    }
}

enum VirtualServerList: SiteListKind {
    static let path = "virtual-servers"
    static let noun = "virtual server"
    static let header = ["NAME", "VIP", "DEVICES", "PAYLOADS", "ENABLED"]
    static func row(_ item: ConfigNode) throws(ConfigurationError) -> [String] {
        let vs = try SiteReader.virtualServer(item)
        let payloads = vs.payloads.filter(\.enabled).sorted { $0.kind.rawValue < $1.kind.rawValue }.map {
            "\($0.kind.rawValue) \($0.port)"
        }
        return [
            vs.name, [vs.vip.ipv4, vs.vip.ipv6].compactMap { $0 }.joined(separator: " "),
            vs.devices.map(\.name).joined(separator: ","), payloads.joined(separator: ", "), text(vs.enabled),
        ]
    }
}

struct ListItems<Kind: SiteListKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List the site's \(Kind.noun)s.")
    }
    @OptionGroup var options: AdminOptions

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let answer = try await client.send(.GET, "/api/v1/sites/\(site)/\(Kind.path)")
            try self.options.printItems(answer, Kind.self)
        }
    }
}

struct ShowItem<Kind: SiteListKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "show",
            abstract:
                "Show one \(Kind.noun) with every setting (JSON), and the site version it was read at (siteVersion)."
        )
    }
    @OptionGroup var options: AdminOptions
    @Argument(help: "The name.") var name: String

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let answer = try await client.send(.GET, "/api/v1/sites/\(site)/\(Kind.path)/\(self.name)")
            // The site version it was read at travels with the item, so that an update made from it is refused
            // (412) when the site has moved on meanwhile.
            guard let version = answer.etag, case .mapping(let entries) = try? ConfigNode.parse(json: answer.body)
            else {
                print(answer.body, terminator: "")
                return
            }
            print(ConfigNode.mapping([ConfigEntry(siteVersionKey, .plain("\(version)"))] + entries).json())
        }
    }
}

/// The field `show` adds to an item: the site version it was read at.
let siteVersionKey = "siteVersion"

/// Takes the `siteVersion` field out of an item's text (YAML or JSON), as `show` printed it.
///
/// - Returns: the item without it (in the same syntax), and the version, or the text as it is and `nil` when it has
///   no such field (or is not a mapping: the console says what is wrong with it).
/// - Throws: ``ClientError`` when `siteVersion` is not a version number.
func takeSiteVersion(from text: String) throws -> (body: String, version: Int?) {
    let json = (try? ConfigNode.parse(json: text)) != nil
    guard case .mapping(let entries) = try? ConfigNode.parse(yaml: text),
        let entry = entries.first(where: { $0.key == siteVersionKey })
    else { return (text, nil) }
    guard case .scalar(let value, _) = entry.value, let version = Int(value), version > 0 else {
        let shown = if case .scalar(let value, _) = entry.value { value } else { entry.value.json() }
        throw ClientError("\(siteVersionKey): \(DisplayText.quoted(shown, limit: 40)) is not a site version such as 7")
    }
    let rest = ConfigNode.mapping(entries.filter { $0.key != siteVersionKey })
    return (json ? rest.json() : rest.yaml(), version)
}

struct CreateItem<Kind: SiteListKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "create",
            abstract: "Add a \(Kind.noun) from a file (YAML or JSON, the site file's fields; - for standard input)."
        )
    }
    @OptionGroup var options: AdminOptions
    @Argument(help: "The file.") var file: String

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            // A file made from `show` (another item's, copied) keeps its siteVersion: based on it, as `update` is.
            let (body, basedOn) = try takeSiteVersion(from: try readBody(self.file))
            let path = "/api/v1/sites/\(site)/\(Kind.path)"
            let answer =
                if let basedOn {
                    try await client.send(.POST, path, body: body, ifMatch: basedOn)
                } else {
                    try await client.change(.POST, path, of: site, body: body)
                }
            print(
                "Created \(Kind.noun) \(documentName(answer)); site \(site) is at version \(answer.etag ?? 0)."
            )
        }
    }
}

struct UpdateItem<Kind: SiteListKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "update",
            abstract: "Replace a \(Kind.noun) with a file's (YAML or JSON; - for standard input).",
            discussion: """
                A file made from `show` keeps its siteVersion: the update is then refused if the site changed since \
                that show (another admin's change is not overwritten; show again and redo the edit). Without \
                siteVersion the update applies to the current version.
                """
        )
    }
    @OptionGroup var options: AdminOptions
    @Argument(help: "The name.") var name: String
    @Argument(help: "The file.") var file: String

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let (body, basedOn) = try takeSiteVersion(from: try readBody(self.file))
            let path = "/api/v1/sites/\(site)/\(Kind.path)/\(self.name)"
            // Based on the version `show` printed, else on the current one.
            let answer =
                if let basedOn {
                    try await client.send(.PUT, path, body: body, ifMatch: basedOn)
                } else {
                    try await client.change(.PUT, path, of: site, body: body)
                }
            print("Updated \(Kind.noun) \(self.name); site \(site) is at version \(answer.etag ?? 0).")
        }
    }
}

struct DeleteItem<Kind: SiteListKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "delete", abstract: "Remove a \(Kind.noun).")
    }
    @OptionGroup var options: AdminOptions
    @Argument(help: "The name.") var name: String

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let answer = try await client.change(.DELETE, "/api/v1/sites/\(site)/\(Kind.path)/\(self.name)", of: site)
            print("Deleted \(Kind.noun) \(self.name); site \(site) is at version \(answer.etag ?? 0).")
        }
    }
}

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "List, show, create, update or delete a site's gateways.",
        subcommands: [
            ListItems<GatewayList>.self, ShowItem<GatewayList>.self, CreateItem<GatewayList>.self,
            UpdateItem<GatewayList>.self, DeleteItem<GatewayList>.self,
        ]
    )
}

struct VirtualServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vs",
        abstract: "List, show, create, update or delete a site's virtual servers.",
        subcommands: [
            ListItems<VirtualServerList>.self, ShowItem<VirtualServerList>.self, CreateItem<VirtualServerList>.self,
            UpdateItem<VirtualServerList>.self, DeleteItem<VirtualServerList>.self,
        ]
    )
}

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

// MARK: - export and import

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

// MARK: - users

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

// MARK: - tokens, status, versions

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

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each device's agent status and each virtual server's primary."
    )
    @OptionGroup var options: AdminOptions

    func run() async throws {
        try await runAdmin {
            let (client, site) = try await self.options.session()
            let answer = try await client.send(.GET, "/api/v1/sites/\(site)/status")
            if self.options.json {
                print(answer.body.trimmingCharacters(in: .newlines))
                return
            }
            print(Self.render(try answer.decode(SiteStatus.self)), terminator: "")
        }
    }

    /// The devices with their agent status, then each virtual server's primary and secondaries.
    static func render(_ status: SiteStatus) -> String {
        func show(_ value: (some CustomStringConvertible)?) -> String { value.map { "\($0)" } ?? "-" }
        var output = "Site \(status.site), version \(status.version)\n\n"
        output += Table.render(
            ["DEVICE", "STATUS", "SOFTWARE", "APPLIED", "LAST SEEN", "ERROR"],
            status.devices.map {
                [
                    $0.device, $0.state.rawValue, show($0.softwareVersion), show($0.appliedVersion), show($0.lastSeen),
                    show($0.error),
                ]
            }
        )
        var servers: [String: (primary: [String], secondaries: [String])] = [:]
        for device in status.devices {
            for role in device.roles {
                let server = role.virtualServer + (role.family == "ipv6" ? " (IPv6)" : "")
                switch role.role {
                case .primary, .standalone: servers[server, default: ([], [])].primary.append(device.device)
                case .secondary: servers[server, default: ([], [])].secondaries.append(device.device)
                case .stopped: break
                }
            }
        }
        if !servers.isEmpty {
            output +=
                "\n"
                + Table.render(
                    ["VIRTUAL SERVER", "PRIMARY", "SECONDARIES"],
                    servers.sorted { $0.key < $1.key }.map {
                        [$0.key, $0.value.primary.joined(separator: ","), $0.value.secondaries.joined(separator: ",")]
                    }
                )
        }
        return output
    }
}

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
