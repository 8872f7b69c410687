/// The text of the VM console's `/etc/issue` (shown by agetty above the login prompt): the version, the
/// appliance's addresses, its device name and console, and the device's state.
public enum ApplianceBanner {
    /// The addresses of one network interface.
    public struct Interface: Sendable, Hashable {
        /// The interface's name (`ens192`).
        public var name: String
        /// Its addresses, IPv4 first.
        public var addresses: [String]

        /// Creates an interface's entry.
        public init(name: String, addresses: [String]) {
            self.name = name
            self.addresses = addresses
        }
    }

    /// What the device's admin endpoint said.
    public enum DeviceState: Sendable, Hashable {
        /// It answered with its status.
        case running(DeviceStatusSummary)
        /// It answered, but not with a status this banner reads (the text says how).
        case unreadable(String)
        /// Nothing answered at the admin address.
        case notRunning(admin: String)
    }

    /// What the banner says when the appliance has no device.conf yet.
    public static let notConfigured = "not configured: log in as root and run halb-appliance-setup"

    /// The banner, escaped for agetty.
    ///
    /// - Parameters:
    ///   - version: the software version.
    ///   - interfaces: the non-loopback interfaces and their addresses.
    ///   - deviceConf: `/etc/halb/device.conf`, or `nil` when there is none.
    ///   - state: what the admin endpoint said.
    public static func render(
        version: String,
        interfaces: [Interface],
        deviceConf: DeviceConf?,
        state: DeviceState
    ) -> String {
        var lines = ["HALB appliance \(version)"]
        if interfaces.isEmpty {
            lines.append("address: none (no network interface)")
        }
        for interface in interfaces {
            let addresses = interface.addresses.isEmpty ? "no address" : interface.addresses.joined(separator: ", ")
            lines.append("address: \(interface.name) \(addresses)")
        }
        let name = deviceConf?.name
        let console = deviceConf?.console
        if name == nil, console == nil {
            lines.append(Self.notConfigured)
        } else {
            if let name { lines.append("name: \(name)") }
            lines.append("console: \(console ?? "none (standalone)")")
        }
        lines.append(Self.describe(state, managed: console != nil))
        return Self.escapedForIssue(lines.map(Self.printable).joined(separator: "\n")) + "\n\n"
    }

    /// The device line: `device: running, enrolled, configuration version 3 (site "dc1")`.
    static func describe(_ state: DeviceState, managed: Bool) -> String {
        switch state {
        case .notRunning(let admin):
            return "device: not running (no answer on \(admin))"
        case .unreadable(let reason):
            return "device: running, status unreadable (\(reason))"
        case .running(let status):
            var parts = ["running"]
            // The admin endpoint of a managed device opens only once it is enrolled and configured.
            if managed { parts.append("enrolled") }
            if let configuration = status.configuration {
                parts.append("configuration version \(configuration.version) (site \(configuration.site))")
            }
            var line = "device: " + parts.joined(separator: ", ")
            if !status.failover.isEmpty {
                let roles = status.failover.prefix(8).map { "\($0.name) \($0.family) \($0.state)" }
                line +=
                    "\nfailover: " + roles.joined(separator: ", ")
                    + (status.failover.count > 8 ? ", … (\(status.failover.count) in all)" : "")
            }
            return line
        }
    }

    /// `text` with every backslash doubled: agetty reads `\` in an issue file as the start of an escape (`\4` is
    /// an address, `\n` the host name), and `\\` as one backslash.
    public static func escapedForIssue(_ text: String) -> String {
        var output = ""
        for character in text {
            if character == "\\" { output += "\\\\" } else { output.append(character) }
        }
        return output
    }

    /// A line with control characters (from a file or the network) shown as `?`, at most 200 characters.
    static func printable(_ line: String) -> String {
        var output = ""
        for (count, scalar) in line.unicodeScalars.enumerated() {
            if count == 200 {
                output += "…"
                break
            }
            let control = scalar.value < 0x20 && scalar != "\n" || (0x7F..<0xA0).contains(scalar.value)
            output.unicodeScalars.append(control ? "?" : scalar)
        }
        return output
    }
}
