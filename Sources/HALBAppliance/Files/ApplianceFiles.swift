import Foundation

/// The files that configure the appliance from its settings: host name, network (systemd-networkd), resolver, the
/// device's service settings and join token, and last the mark that the appliance is configured.
public enum ApplianceFiles {
    /// Where the device service finds the console's CA certificate (`halb appliance fetch-ca` writes it).
    public static let consoleCAPath = "/etc/halb/console-ca.pem"
    /// The mark written last, once every other file is in place.
    public static let configuredPath = "var/lib/halb-appliance/configured"

    /// Every file, in the order they are written: the mark last.
    ///
    /// - Parameters:
    ///   - settings: the checked settings.
    ///   - source: where they came from (named in the files).
    ///   - date: when (written in the mark).
    public static func render(_ settings: ApplianceSettings, source: ApplianceSource, date: Date) -> [ApplianceFile] {
        var files = [
            ApplianceFile(path: "etc/hostname", contents: "\(settings.hostname)\n"),
            ApplianceFile(path: "etc/hosts", contents: Self.hosts(settings)),
            ApplianceFile(
                path: "etc/systemd/network/10-halb.network",
                contents: Self.network(settings, source: source)
            ),
        ]
        if !settings.dns.isEmpty {
            files.append(
                ApplianceFile(
                    path: "etc/resolv.conf",
                    contents: Self.resolvConf(settings, source: source),
                    leavesSymlink: true
                )
            )
        }
        files.append(ApplianceFile(path: "etc/halb/device.conf", contents: Self.deviceConf(settings, source: source)))
        files.append(ApplianceFile(path: "etc/halb/join-token", contents: "\(settings.joinToken)\n", mode: 0o600))
        files.append(ApplianceFile(path: Self.configuredPath, contents: Self.configured(source: source, date: date)))
        return files
    }

    static func header(_ source: ApplianceSource) -> String {
        "# Written by halb appliance configure from \(source.rawValue).\n"
    }

    /// `/etc/hosts`: localhost, this host on 127.0.1.1 (Debian's way, with its short name too when the host name
    /// has dots), and IPv6 loopback.
    static func hosts(_ settings: ApplianceSettings) -> String {
        let short = ApplianceValidation.defaultName(hostname: settings.hostname)
        let names = short == settings.hostname ? settings.hostname : "\(settings.hostname) \(short)"
        return """
            127.0.0.1 localhost
            127.0.1.1 \(names)
            ::1 localhost ip6-localhost ip6-loopback

            """
    }

    /// The systemd-networkd unit (systemd 252) for the appliance's interface: eth0, its one NIC (the image boots with
    /// net.ifnames=0). Only eth0: a static address on a second NIC as well would be the same address twice.
    static func network(_ settings: ApplianceSettings, source: ApplianceSource) -> String {
        var lines = [
            "[Match]",
            "Name=eth0",
            "",
            "[Network]",
        ]
        if settings.usesDHCP {
            lines.append("DHCP=yes")
        } else {
            lines += settings.addresses.map { "Address=\($0)" }
            lines += settings.gateways.map { "Gateway=\($0)" }
        }
        lines += settings.dns.map { "DNS=\($0)" }
        if settings.addresses.contains(where: { !$0.address.isIPv4 }) {
            // A static IPv6 address: no SLAAC addresses or routes from router advertisements beside it.
            lines.append("IPv6AcceptRA=no")
        }
        if settings.usesDHCP, !settings.dns.isEmpty {
            // DNS servers given with DHCP replace the ones DHCP and router advertisements offer.
            lines += ["", "[DHCPv4]", "UseDNS=no", "", "[DHCPv6]", "UseDNS=no", "", "[IPv6AcceptRA]", "UseDNS=no"]
        }
        return Self.header(source) + lines.joined(separator: "\n") + "\n"
    }

    /// `/etc/resolv.conf` with the DNS servers.
    static func resolvConf(_ settings: ApplianceSettings, source: ApplianceSource) -> String {
        Self.header(source) + settings.dns.map { "nameserver \($0)\n" }.joined()
    }

    /// `/etc/halb/device.conf`, read by halb-device.service with `EnvironmentFile=`: nothing is quoted, so every
    /// value is one that needs no quotes (the settings' checks make sure of that).
    static func deviceConf(_ settings: ApplianceSettings, source: ApplianceSource) -> String {
        var lines = [
            "HALB_NAME=\(settings.name)",
            "HALB_CONSOLE=\(settings.console)",
        ]
        if let fingerprint = settings.consoleCASHA256 {
            lines += [
                "HALB_CONSOLE_CA=\(Self.consoleCAPath)",
                "HALB_CONSOLE_CA_SHA256=\(fingerprint)",
            ]
        }
        return Self.header(source) + lines.joined(separator: "\n") + "\n"
    }

    /// The mark: the source and the time, `nocloud 2026-05-01T10:00:00Z`.
    static func configured(source: ApplianceSource, date: Date) -> String {
        "\(source.rawValue) \(ISO8601DateFormatter().string(from: date))\n"
    }
}
