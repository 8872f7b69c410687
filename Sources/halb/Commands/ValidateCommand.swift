import ArgumentParser
import Foundation
import HALBCore
import HALBDevice

/// `halb validate FILE`: checks a site file and prints every problem with its path.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a site configuration file.",
        discussion: """
            Prints every error with the path of the field and the offending value, such as \
            `virtualServers[0].payloads.gateway.port: 70000 is not a port (1-65535)`. Exits 0 when the file is \
            valid and 1 when it is not.
            """
    )

    @Argument(help: "The site file (YAML).")
    var file: String

    @Option(name: .long, help: "Also check that this device serves at least one virtual server.")
    var device: String?

    func run() throws {
        let site: Site
        do {
            site = try SiteFile.load(path: self.file)
        } catch {
            FileHandle.standardError.write(Data("\(self.file): invalid\n\(error.description)\n".utf8))
            throw ExitCode(1)
        }
        if let device = self.device {
            if let problem = SiteFile.problem(site: site, device: device) {
                FileHandle.standardError.write(Data("\(self.file): \(problem)\n".utf8))
                throw ExitCode(1)
            }
        }
        let payloads = site.virtualServers.reduce(0) { $0 + $1.payloads.filter(\.enabled).count }
        print(
            "\(self.file): valid (site \(site.name), version \(site.version): \(Self.count(site.gateways.count, "gateway")), "
                + "\(Self.count(site.devices.count, "device")), \(Self.count(site.virtualServers.count, "virtual server")), "
                + "\(Self.count(payloads, "payload")))"
        )
    }

    /// "1 device", "2 devices".
    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }
}
