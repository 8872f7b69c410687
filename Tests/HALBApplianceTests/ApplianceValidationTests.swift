import HALBAppliance
import Testing

@Suite struct ApplianceValidationTests {
    /// A valid input, changed by `changes`.
    static func input(_ changes: [ApplianceField: String?] = [:]) -> ApplianceInput {
        var input = ApplianceInput([
            .hostname: "lb1",
            .address: "192.0.2.10/24,2001:db8::10/64",
            .gateway: "192.0.2.1,2001:db8::1",
            .dns: "192.0.2.53",
            .console: "https://console.example.net:8443",
            .consoleCASHA256: sampleFingerprint,
            .joinToken: "tok-1",
        ])
        for (field, value) in changes { input[field] = value }
        return input
    }

    @Test(arguments: [
        (ApplianceField.hostname, "web_1", #"hostname: "web_1" is not a host name (RFC 1123"#),
        (.hostname, "-lb", #"hostname: "-lb" is not a host name"#),
        (.hostname, String(repeating: "a", count: 64), "is not a host name"),
        (.hostname, "10.0.0.1", #"hostname: "10.0.0.1" is not a host name"#),
        (.name, "lb.1", #"name: "lb.1" is not a device name"#),
        (.address, "192.0.2.300/24", #"address: "192.0.2.300/24" is not an IPv4 or IPv6 address with a prefix length"#),
        (.address, "192.0.2.10", #"address: "192.0.2.10" has no prefix length"#),
        (
            .address, "192.0.2.10/33",
            #"address: "192.0.2.10/33" is not an IPv4 or IPv6 address with a prefix length (an IPv4 prefix is 1-32)"#
        ),
        (.address, "2001:db8::1/129", "(an IPv6 prefix is 1-128)"),
        (.address, "192.0.2.0/24", #"address: "192.0.2.0/24" is the network's own address"#),
        (.address, "192.0.2.255/24", "broadcast"),
        (.address, "127.0.0.2/8", "is a loopback address"),
        (.address, "192.0.2.10/24,192.0.2.11/24", "give at most one IPv4 and one IPv6 address"),
        (.address, "dhcp,192.0.2.10/24", "dhcp excludes static addresses"),
        (.gateway, "10.0.0.1,2001:db8::1", #"gateway: "10.0.0.1" is not in the network of address 192.0.2.10/24"#),
        (.gateway, "192.0.2.1,192.0.2.2", "give at most one IPv4 and one IPv6 gateway"),
        (.gateway, "192.0.2.10", #"gateway: "192.0.2.10" is the appliance's own address"#),
        (.gateway, "gw", #"gateway: "gw" is not an IPv4 or IPv6 address"#),
        (.dns, "192.0.2.53,192.0.2.54,192.0.2.55,192.0.2.56", "lists 4 servers; at most 3"),
        (.dns, "dns.example", #"dns: "dns.example" is not an IPv4 or IPv6 address"#),
        (.console, "ftp://console", #"console: "ftp://console" is not an https:// or http:// URL"#),
        (.console, "https://console/api", "has a path, query or fragment"),
        (.console, "https://console:99999", #""99999" is not a port (1-65535)"#),
        (.console, "https://2001:db8::1", "write an IPv6 host in brackets"),
        (.console, "https://user@console", "has a user, query or fragment"),
        (.console, "https://con sole", #""con sole" is not a host name or IPv4 address"#),
        (.consoleCASHA256, "abc", #"console_ca_sha256: "abc" is not a SHA-256 fingerprint"#),
        (.joinToken, "has space", "join_token: character 4 of the token (not shown) is a space"),
        (.joinToken, String(repeating: "x", count: 513), "is 513 characters; at most 512"),
    ])
    func aBadValueIsNamedWithItsField(field: ApplianceField, value: String, expected: String) {
        let message = refusal { try ApplianceSettings(validating: Self.input([field: value])) }
        #expect(message.contains(expected), "\(message)")
        #expect(message.hasPrefix(field.rawValue + ":"), "\(message)")
    }

    @Test func everyProblemIsReportedAtOnce() {
        let message = refusal {
            try ApplianceSettings(validating: Self.input([.hostname: nil, .address: "bad", .joinToken: nil]))
        }
        #expect(
            message.split(separator: "\n").map { String($0.prefix { $0 != ":" }) } == [
                "hostname", "address", "join_token",
            ]
        )
    }

    @Test func theJoinTokenIsNeverShownInAnError() {
        let message = refusal { try ApplianceSettings(validating: Self.input([.joinToken: "secret value"])) }
        #expect(!message.contains("secret"), "\(message)")
    }

    @Test func requiredSettingsDependOnEachOther() {
        let https = refusal { try ApplianceSettings(validating: Self.input([.consoleCASHA256: nil])) }
        #expect(https.hasPrefix("console_ca_sha256: is required for an https:// console"), "\(https)")
        let http = refusal {
            try ApplianceSettings(validating: Self.input([.console: "http://console:8080"]))
        }
        #expect(
            http.hasPrefix(#"console_ca_sha256: "\#(sampleFingerprint)" is only for an https:// console"#),
            "\(http)"
        )
        let dhcpGateway = refusal { try ApplianceSettings(validating: Self.input([.address: "dhcp"])) }
        #expect(dhcpGateway == #"gateway: "192.0.2.1,2001:db8::1" needs a static address (address is dhcp)"#)
        let family = refusal {
            try ApplianceSettings(validating: Self.input([.address: "192.0.2.10/24", .gateway: "2001:db8::1"]))
        }
        #expect(family == #"gateway: "2001:db8::1" is IPv6, but address has no IPv6 address"#)
    }

    @Test func valuesAreNormalised() throws {
        let settings = try ApplianceSettings(
            validating: Self.input([
                .hostname: "LB1.Example.NET",
                .address: " 2001:DB8:0::10/64 , 192.0.2.10/24 ",
                .gateway: "fe80::1",
                .console: "HTTPS://[2001:DB8::5]:8443/",
                .consoleCASHA256: "SHA256 Fingerprint=" + Array(repeating: "AB", count: 32).joined(separator: ":"),
            ])
        )
        #expect(settings.name == "LB1")
        #expect(settings.addresses.map(\.description) == ["192.0.2.10/24", "2001:db8::10/64"])
        #expect(settings.gateways.map(\.description) == ["fe80::1"])
        #expect(settings.console.description == "https://[2001:db8::5]:8443")
        #expect(settings.console.host == "2001:db8::5")
        #expect(settings.consoleCASHA256 == sampleFingerprint)
    }
}
