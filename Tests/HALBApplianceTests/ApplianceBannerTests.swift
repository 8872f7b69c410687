import Foundation
import HALBAppliance
import Testing

@Suite struct ApplianceBannerTests {
    static let interfaces = [
        ApplianceBanner.Interface(name: "ens192", addresses: ["192.0.2.10", "2001:db8::10"]),
        ApplianceBanner.Interface(name: "ens224", addresses: []),
    ]

    @Test func notConfigured() {
        let text = ApplianceBanner.render(
            version: "1.2.3",
            interfaces: Self.interfaces,
            deviceConf: nil,
            state: .notRunning(admin: "127.0.0.1:9100")
        )
        #expect(
            text == """
                HALB appliance 1.2.3
                address: ens192 192.0.2.10, 2001:db8::10
                address: ens224 no address
                not configured: log in as root and run halb-appliance-setup
                device: not running (no answer on 127.0.0.1:9100)


                """
        )
    }

    @Test func aRunningManagedDevice() throws {
        // The shape of the admin endpoint's /status (AdminServer.DeviceStatus), trimmed.
        let json = """
            {
              "balancer" : {
                "configuration" : { "appliedAt" : "2026-05-01T10:00:00Z", "generation" : 2, "site" : "dc1", "version" : 3 },
                "gateways" : [], "listeners" : [], "virtualServers" : []
              },
              "device" : "lb1",
              "failover" : [
                { "name" : "web", "family" : "ipv4", "interface" : "ens192", "vrid" : 51, "state" : "MASTER",
                  "priority" : 200, "configuredPriority" : 200, "transitions" : 1,
                  "advertisementsSent" : 10, "advertisementsReceived" : 0 }
              ],
              "version" : "0.1.0"
            }
            """
        let status = try DeviceStatusSummary.decode(Data(json.utf8))
        let text = ApplianceBanner.render(
            version: "0.1.0",
            interfaces: [],
            deviceConf: DeviceConf(parsing: "# comment\nHALB_NAME=lb1\nHALB_CONSOLE=\"https://console:8443\"\n"),
            state: .running(status)
        )
        #expect(
            text == """
                HALB appliance 0.1.0
                address: none (no network interface)
                name: lb1
                console: https://console:8443
                device: running, enrolled, configuration version 3 (site dc1)
                failover: web ipv4 MASTER


                """
        )
    }

    @Test func backslashesAreDoubledAndControlsHidden() {
        let text = ApplianceBanner.render(
            version: "0.1.0",
            interfaces: [ApplianceBanner.Interface(name: "e\\4", addresses: [])],
            deviceConf: DeviceConf(parsing: "HALB_NAME=lb\\n\u{1B}[2J\n"),
            state: .unreadable("HTTP 500 from 127.0.0.1:9100")
        )
        #expect(text.contains("address: e\\\\4 no address\n"), "\(text)")
        #expect(text.contains("name: lb\\\\n?[2J\n"), "\(text)")
        #expect(text.contains("console: none (standalone)\n"))
        #expect(text.contains("device: running, status unreadable (HTTP 500 from 127.0.0.1:9100)\n"))
        // Every backslash in the output is part of a doubled pair.
        #expect(!text.replacingOccurrences(of: "\\\\", with: "").contains("\\"))
    }

    @Test func theEscapeDoublesEachBackslash() {
        #expect(ApplianceBanner.escapedForIssue(#"a\b\\c"#) == #"a\\b\\\\c"#)
    }

    @Test func aStatusThatIsNotADevicesIsRefused() {
        #expect(throws: (any Error).self) { try DeviceStatusSummary.decode(Data("{\"ok\":true}".utf8)) }
    }
}
