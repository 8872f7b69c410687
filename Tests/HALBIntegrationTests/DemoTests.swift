import Foundation
import HALBTestSupport
import Testing

/// `halb demo`, the README's first command: three gateways take turns, a stopped gateway is noticed and skipped.
/// It uses the fixed demo addresses (127.0.0.10:8080, 127.0.0.1:18081-18083), so it fails when a demo is already
/// running on this machine.
@Suite struct DemoTests {
    private static let site = "127.0.0.10:8080"

    /// The body of one HTTP response from the demo site ("Hello from gwN").
    private func answer() async throws -> String {
        let response = try await httpGet(Self.site, "/")
        return response.components(separatedBy: "\r\n\r\n").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    @Test func theGatewaysTakeTurnsAndAStoppedOneIsSkipped() async throws {
        let demo = try HALBProcess(["demo", "--admin", "127.0.0.1:0"])
        #expect(await eventually { demo.text.contains("HALB demo is running") })
        let admin = try #require(demo.text.firstMatch(of: /admin\.address=(\S+)/)?.1).description
        // All three gateways are up after `rise` (2) checks.
        #expect(await eventually { demo.text.components(separatedBy: "Gateway is up").count == 4 })

        var seen: [String] = []
        for _ in 0..<6 { seen.append(try await self.answer()) }
        #expect(Set(seen) == ["Hello from gw1", "Hello from gw2", "Hello from gw3"], "answers: \(seen)")

        let stopped = try await httpRequest("POST", admin, "/demo/gateways/gw2/stop")
        #expect(stopped.hasPrefix("HTTP/1.1 200"))
        #expect(await eventually { demo.text.contains("gateway.name=gw2") && demo.text.contains("Gateway is down") })
        var after: [String] = []
        for _ in 0..<6 { after.append(try await self.answer()) }
        #expect(Set(after) == ["Hello from gw1", "Hello from gw3"], "answers: \(after)")

        demo.signal(SIGINT)
        #expect(await demo.exitCode() == 0)
        #expect(!demo.text.contains("Program crashed"))
    }
}
