import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

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
