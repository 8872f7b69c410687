import ArgumentParser
import Foundation
import HALBClient
import HALBCore
import HALBWire
import NIOHTTP1

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
