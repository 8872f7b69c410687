import HALBAppliance
import Testing

@Suite struct NoCloudSeedTests {
    static let userData = """
        #cloud-config
        hostname: ignored-when-halb-has-one
        package_update: false
        users: [default]
        halb:
          hostname: lb1.example.net
          address: [192.0.2.10/24, "2001:db8::10/64"]
          gateway: 192.0.2.1, 2001:db8::1
          dns:
            - 192.0.2.53
          console: https://console.example.net:8443/
          console_ca_sha256: "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB"
          join_token: tok-3f9a2c

        """

    @Test func aGoodSeedGivesEverySetting() throws {
        let input = try NoCloudSeed.parse(metaData: "instance-id: i-1\nlocal-hostname: meta\n", userData: Self.userData)
        let settings = try ApplianceSettings(validating: input)
        #expect(settings.hostname == "lb1.example.net")
        #expect(settings.name == "lb1")
        #expect(settings.addresses.map(\.description) == ["192.0.2.10/24", "2001:db8::10/64"])
        #expect(settings.gateways.map(\.description) == ["192.0.2.1", "2001:db8::1"])
        #expect(settings.dns.map(\.description) == ["192.0.2.53"])
        #expect(settings.console.description == "https://console.example.net:8443")
        #expect(settings.consoleCASHA256 == sampleFingerprint)
        #expect(settings.joinToken == "tok-3f9a2c")
    }

    @Test func theHostNameFallsBackToTopLevelThenMetaData() throws {
        let body = "halb:\n  console: http://console:8080\n  join_token: t0k3n\n"
        let topLevel = try NoCloudSeed.parse(
            metaData: "local-hostname: meta",
            userData: "#cloud-config\nhostname: top\n" + body
        )
        #expect(topLevel[.hostname] == "top")
        let meta = try NoCloudSeed.parse(
            metaData: "instance-id: x\nlocal-hostname: meta\n",
            userData: "#cloud-config\n" + body
        )
        #expect(meta[.hostname] == "meta")
        let settings = try ApplianceSettings(validating: meta)
        #expect(settings.usesDHCP)
        #expect(settings.consoleCASHA256 == nil)
    }

    @Test func anUnknownKeyUnderHALBIsAnErrorNamingIt() {
        let message = refusal {
            try NoCloudSeed.parse(metaData: nil, userData: "#cloud-config\nhalb:\n  adress: dhcp\n")
        }
        #expect(
            message.hasPrefix("user-data: halb.adress: unknown key; the keys of halb: are hostname, name,"),
            "\(message)"
        )
    }

    @Test func aBadAddressIsNamedWithItsValue() throws {
        let input = try NoCloudSeed.parse(
            metaData: nil,
            userData: """
                #cloud-config
                halb: {hostname: lb1, address: 192.0.2.300/24, console: "http://c", join_token: t}
                """
        )
        let message = refusal { try ApplianceSettings(validating: input) }
        #expect(message == "address: \"192.0.2.300/24\" is not an IPv4 or IPv6 address with a prefix length")
    }

    @Test func userDataMustBeCloudConfig() {
        let message = refusal { try NoCloudSeed.parse(metaData: nil, userData: "#!/bin/sh\necho hi\n") }
        #expect(message.contains("user-data: does not start with #cloud-config"), "\(message)")
        let list = refusal {
            try NoCloudSeed.parse(metaData: nil, userData: "#cloud-config\nhalb:\n  console: [a, b]\n")
        }
        #expect(list == "user-data: halb.console: is a list; give one value")
    }

    @Test func anOversizeSeedFileIsRefusedBeforeParsing() throws {
        let directory = try TemporaryDirectory()
        try directory.write("meta-data", "local-hostname: lb1\n")
        try directory.write("user-data", "#cloud-config\n" + String(repeating: "# padding\n", count: 7000))
        let message = refusal { try NoCloudSeed.read(directory: directory.path) }
        #expect(message.contains("user-data: the file is larger than 64 KiB; refused"), "\(message)")
        let missing = refusal { try NoCloudSeed.read(directory: directory.path + "/nothing") }
        #expect(missing.hasSuffix("nothing/user-data: no such file"), "\(missing)")
    }

    @Test func aYAMLAliasBombIsRefusedWhileItIsRead() {
        var yaml = "#cloud-config\na0: &a0 [lol]\n"
        for level in 1...9 {
            yaml +=
                "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        yaml += "halb: {hostname: lb1}\n"
        // Refused by its node count while it is read (9^9 values if expanded), not after expanding it.
        let message = refusal { try NoCloudSeed.parse(metaData: nil, userData: yaml) }
        #expect(message.contains("more than 50000 values"), "\(message)")
    }

    @Test func aSeedFileReadFromDiskWorks() throws {
        let directory = try TemporaryDirectory()
        try directory.write("user-data", Self.userData)
        let input = try NoCloudSeed.read(directory: directory.path)
        #expect(input[.joinToken] == "tok-3f9a2c")
    }
}
