import ArgumentParser
import AsyncHTTPClient
import Foundation
import HALBAppliance
import HALBCore
import NIOCore
import NIOHTTP1

/// `halb appliance banner`: the text of the VM console's /etc/issue.
struct ApplianceBannerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "banner",
        abstract: "Print the appliance's console banner (for /etc/issue): version, addresses, device and its state.",
        discussion: """
            Prints the HALB version; the IPv4 and IPv6 addresses of each interface but loopback (IPv6 link-local \
            ones left out); the device's name and console from the device settings file, or how to configure the \
            appliance when there is none; and the device's state from its admin endpoint's /status (running, \
            enrolled when managed by a console, its configuration version and failover roles; or not running \
            when nothing answers within 2 seconds). Backslashes are doubled, as agetty reads issue files.
            """
    )

    @Option(
        name: .long,
        help: ArgumentHelp("The device's settings (HALB_NAME, HALB_CONSOLE).", valueName: "file")
    )
    var deviceConf = "/etc/halb/device.conf"

    @Option(name: .long, help: ArgumentHelp("The device's admin endpoint.", valueName: "host:port"))
    var admin = "127.0.0.1:9100"

    /// How long the admin endpoint has to answer.
    static let statusTimeout: TimeAmount = .seconds(2)

    func validate() throws {
        guard RunOptions.hostPort(self.admin) != nil else {
            throw ValidationError("--admin \(self.admin) is not HOST:PORT (like 127.0.0.1:9100)")
        }
    }

    func run() async throws {
        let state = await Self.deviceState(admin: self.admin)
        let text = ApplianceBanner.render(
            version: HALBVersion.current,
            interfaces: InterfaceAddresses.current(),
            deviceConf: DeviceConf.read(path: self.deviceConf),
            state: state
        )
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// What the admin endpoint at `admin` says, within ``statusTimeout``.
    static func deviceState(admin: String) async -> ApplianceBanner.DeviceState {
        guard let (host, port) = RunOptions.hostPort(admin) else { return .notRunning(admin: admin) }
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: Self.statusTimeout, read: Self.statusTimeout)
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let state: ApplianceBanner.DeviceState
        do {
            let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/status"
            let response = try await client.execute(HTTPClientRequest(url: url), deadline: .now() + Self.statusTimeout)
            if response.status == .ok {
                let body = try await response.body.collect(upTo: DeviceStatusSummary.maximumBytes)
                do {
                    state = .running(try DeviceStatusSummary.decode(Data(body.readableBytesView)))
                } catch {
                    state = .unreadable("not a device's status")
                }
            } else {
                state = .unreadable("HTTP \(response.status.code) from \(admin)")
            }
        } catch {
            state = .notRunning(admin: admin)
        }
        try? await client.shutdown()
        return state
    }
}
