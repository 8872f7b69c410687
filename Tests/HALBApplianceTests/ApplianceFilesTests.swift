import Foundation
import HALBAppliance
import Testing

@Suite struct ApplianceFilesTests {
    static let date = Date(timeIntervalSince1970: 1_777_777_777)

    static func files(_ input: ApplianceInput, source: ApplianceSource = .nocloud) throws -> [String: ApplianceFile] {
        let settings = try ApplianceSettings(validating: input)
        let files = ApplianceFiles.render(settings, source: source, date: Self.date)
        #expect(files.last?.path == "var/lib/halb-appliance/configured")
        return Dictionary(uniqueKeysWithValues: files.map { ($0.path, $0) })
    }

    @Test func dhcpWithoutDNS() throws {
        let files = try Self.files(
            ApplianceInput([
                .hostname: "lb1",
                .console: "https://console.example.net:8443",
                .consoleCASHA256: sampleFingerprint,
                .joinToken: "tok-1",
            ])
        )
        #expect(
            files.keys.sorted() == [
                "etc/halb/device.conf", "etc/halb/join-token", "etc/hostname", "etc/hosts",
                "etc/systemd/network/10-halb.network", "var/lib/halb-appliance/configured",
            ]
        )
        #expect(files["etc/hostname"]?.contents == "lb1\n")
        #expect(
            files["etc/hosts"]?.contents == """
                127.0.0.1 localhost
                127.0.1.1 lb1
                ::1 localhost ip6-localhost ip6-loopback

                """
        )
        #expect(
            files["etc/systemd/network/10-halb.network"]?.contents == """
                # Written by halb appliance configure from nocloud.
                [Match]
                Name=eth0

                [Network]
                DHCP=yes

                """
        )
        #expect(
            files["etc/halb/device.conf"]?.contents == """
                # Written by halb appliance configure from nocloud.
                HALB_NAME=lb1
                HALB_CONSOLE=https://console.example.net:8443
                HALB_CONSOLE_CA=/etc/halb/console-ca.pem
                HALB_CONSOLE_CA_SHA256=\(sampleFingerprint)

                """
        )
        #expect(files["etc/halb/device.conf"]?.mode == 0o644)
        #expect(files["etc/halb/join-token"]?.contents == "tok-1\n")
        #expect(files["etc/halb/join-token"]?.mode == 0o600)
        #expect(files["var/lib/halb-appliance/configured"]?.contents == "nocloud 2026-05-03T03:09:37Z\n")
    }

    @Test func staticIPv4AndIPv6() throws {
        let files = try Self.files(
            ApplianceInput([
                .hostname: "lb2.example.net",
                .name: "edge-a",
                .address: "192.0.2.10/24,2001:db8::10/64",
                .gateway: "192.0.2.1,2001:db8::1",
                .dns: "192.0.2.53,2001:db8::53",
                .console: "http://192.0.2.5:8080",
                .joinToken: "tok-2",
            ]),
            source: .ovf
        )
        #expect(files["etc/hosts"]?.contents.contains("127.0.1.1 lb2.example.net lb2\n") == true)
        #expect(
            files["etc/systemd/network/10-halb.network"]?.contents == """
                # Written by halb appliance configure from ovf.
                [Match]
                Name=eth0

                [Network]
                Address=192.0.2.10/24
                Address=2001:db8::10/64
                Gateway=192.0.2.1
                Gateway=2001:db8::1
                DNS=192.0.2.53
                DNS=2001:db8::53
                IPv6AcceptRA=no

                """
        )
        #expect(
            files["etc/resolv.conf"]?.contents == """
                # Written by halb appliance configure from ovf.
                nameserver 192.0.2.53
                nameserver 2001:db8::53

                """
        )
        // An http:// console has no CA to pin.
        #expect(
            files["etc/halb/device.conf"]?.contents == """
                # Written by halb appliance configure from ovf.
                HALB_NAME=edge-a
                HALB_CONSOLE=http://192.0.2.5:8080

                """
        )
    }

    @Test func dnsWithDHCPReplacesTheLeasesServers() throws {
        let files = try Self.files(
            ApplianceInput([.hostname: "lb1", .dns: "192.0.2.53", .console: "http://c", .joinToken: "t"])
        )
        let network = try #require(files["etc/systemd/network/10-halb.network"]?.contents)
        #expect(network.contains("DHCP=yes\nDNS=192.0.2.53\n\n[DHCPv4]\nUseDNS=no\n\n[DHCPv6]\nUseDNS=no\n"))
        #expect(files["etc/resolv.conf"] != nil)
    }

    @Test func configureWritesEveryFileUnderTheRootWithItsMode() throws {
        let root = try TemporaryDirectory()
        let input = ApplianceValidationTests.input()
        let outcome = try ApplianceConfigurator.configure(input, source: .wizard, root: root.path, date: Self.date)
        #expect(outcome.written.last == root.path + "/var/lib/halb-appliance/configured")
        #expect(
            root.files() == [
                "etc/halb/device.conf", "etc/halb/join-token", "etc/hostname", "etc/hosts", "etc/resolv.conf",
                "etc/systemd/network/10-halb.network", "var/lib/halb-appliance/configured",
            ]
        )
        #expect(root.mode("etc/halb/join-token") == 0o600)
        #expect(root.mode("etc/halb/device.conf") == 0o644)
        #expect(root.read("etc/halb/join-token") == "tok-1\n")
        #expect(root.read("var/lib/halb-appliance/configured") == "wizard 2026-05-03T03:09:37Z\n")

        // Run again: the files are replaced, not appended to, and no temporary file is left.
        _ = try ApplianceConfigurator.configure(
            ApplianceValidationTests.input([.hostname: "lb9"]),
            source: .wizard,
            root: root.path,
            date: Self.date
        )
        #expect(root.read("etc/hostname") == "lb9\n")
        #expect(root.files().count == 7)
    }

    @Test func nothingIsWrittenWhenASettingIsInvalid() throws {
        let root = try TemporaryDirectory()
        let input = ApplianceValidationTests.input([.address: "192.0.2.300/24"])
        let message = refusal { try ApplianceConfigurator.configure(input, source: .nocloud, root: root.path) }
        #expect(message.contains(#"address: "192.0.2.300/24""#))
        #expect(root.files().isEmpty)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: root.path))?.isEmpty == true)
    }

    @Test func aResolvConfSymlinkIsLeftAlone() throws {
        let root = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: root.path + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: root.path + "/etc/resolv.conf",
            withDestinationPath: "../run/systemd/resolve/stub-resolv.conf"
        )
        let outcome = try ApplianceConfigurator.configure(
            ApplianceValidationTests.input(),
            source: .nocloud,
            root: root.path
        )
        #expect(outcome.leftAlone == [root.path + "/etc/resolv.conf"])
        let destination = try FileManager.default.destinationOfSymbolicLink(atPath: root.path + "/etc/resolv.conf")
        #expect(destination == "../run/systemd/resolve/stub-resolv.conf")
    }

    @Test func deviceConfValuesNeedNoQuotes() {
        #expect(ApplianceValidation.isPlainEnvironmentValue("https://console.example.net:8443"))
        for bad in ["a b", "a\"b", "a'b", "a$b", "a\\b", "a\tb", "a\u{7}b", "a\u{85}b"] {
            #expect(!ApplianceValidation.isPlainEnvironmentValue(bad), "\(bad)")
        }
    }
}
