import Foundation
import HALBTestSupport
import Testing

/// `halb demo`, the README's first command: the gateways take turns, a stopped gateway is skipped, and stopping the
/// primary device moves the VIP to the secondary. It uses the fixed demo addresses (127.0.0.10:8080,
/// 127.0.0.1:18081-18083, 127.0.0.11-12 and the admin ports 9101-9102), so it fails when a demo is already running.
@Suite(.timeLimit(.minutes(2))) struct DemoTests {
    private static let site = "127.0.0.10:8080"

    /// The body of one HTTP response from the demo site ("Hello from gwN"), or "" when none came.
    private func answer() async -> String {
        guard let response = try? await httpGet(Self.site, "/") else { return "" }
        return response.components(separatedBy: "\r\n\r\n").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    @Test func theGatewaysTakeTurnsAStoppedOneIsSkippedAndTheSecondaryTakesOver() async throws {
        let demo = try HALBProcess(["demo", "--admin", "127.0.0.1:0"])
        #expect(await eventually { demo.text.contains("HALB demo is running") })
        let admin = try #require(demo.text.firstMatch(of: /admin\.address=(\S+)/)?.1).description
        // lb1 becomes primary.
        #expect(await eventually(timeout: .seconds(20)) { demo.text.contains("device.name=lb1 reason=no advertisement") })
        #expect(await eventually(timeout: .seconds(20)) { await self.answer().hasPrefix("Hello from") })
        #expect(await eventually(timeout: .seconds(10)) {
            var seen: Set<String> = []
            for _ in 0..<6 { seen.insert(await self.answer()) }
            return seen == ["Hello from gw1", "Hello from gw2", "Hello from gw3"]
        })

        let stopped = try await httpRequest("POST", admin, "/demo/gateways/gw2/stop")
        #expect(stopped.hasPrefix("HTTP/1.1 200"))
        #expect(await eventually {
            demo.text.split(separator: "\n").contains {
                $0.contains("device.name=lb1 gateway.address=127.0.0.1:18082") && $0.contains("Gateway is down")
            }
        })
        var after: Set<String> = []
        for _ in 0..<6 { after.insert(await self.answer()) }
        #expect(after == ["Hello from gw1", "Hello from gw3"], "answers: \(after)")

        // Stop the primary: it resigns and the secondary serves the VIP.
        _ = try await httpRequest("POST", admin, "/demo/devices/lb1/stop")
        #expect(await eventually { demo.text.contains("device.name=lb2 reason=the master resigned (priority 0)") })
        #expect(await eventually { await self.answer().hasPrefix("Hello from") })

        demo.signal(SIGINT)
        #expect(await demo.exitCode() == 0)
        #expect(!demo.text.contains("Program crashed"))
        // The devices stopped with the demo: nothing serves the VIP any more.
        #expect(await eventually { await self.answer() == "" })
    }
}
