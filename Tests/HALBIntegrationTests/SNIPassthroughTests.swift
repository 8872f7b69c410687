import Foundation
import HALBTestSupport
import NIOCore
import Testing

/// The `ssl` payload in passthrough mode with SNI routing, end to end with real processes: `openssl s_server`
/// gateways with their own certificates, `halb device`, and `openssl s_client` as the client.
@Suite(
    .timeLimit(.minutes(2)),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl")
)
struct SNIPassthroughTests {
    private static let openssl = URL(fileURLWithPath: "/usr/bin/openssl")

    @Test func serverNamesReachTheirGatewaysAndTheCertificateIsTheGateways() async throws {
        let directory = try TemporaryDirectory()
        var gateways: [HALBProcess] = []
        var ports: [Int] = []
        for name in ["gateway-a", "gateway-b"] {
            let (certificate, key) = try await makeCertificate(in: directory, name: name)
            let port = try freePort()
            gateways.append(
                try HALBProcess(
                    executable: Self.openssl,
                    arguments: ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate, "-key", key, "-www"]
                )
            )
            ports.append(port)
            #expect(await accepts(port: port), "\(gateways.last!.text)")
        }
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        let file = try directory.write(
            "site.yaml",
            """
            site: lab
            gateways:
              - { name: gwa, address: 127.0.0.1, ports: { ssl: \(ports[0]) } }
              - { name: gwb, address: 127.0.0.1, ports: { ssl: \(ports[1]) } }
            devices:
              - { name: lb1, address: 127.0.0.1, interface: lo }
            virtualServers:
              - name: rdp
                vip: { ipv4: \(vip)/8 }
                devices: [lb1]
                payloads:
                  ssl:
                    port: \(port)
                    mode: passthrough
                    gateways: [gwb]
                    sni:
                      a.example.test: [gwa]
                      "*.apps.example.test": [gwa]
                healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, rise: 1, fall: 2 }
                timeouts: { clientHello: 2s }

            """
        )
        let (device, admin) = try await startDevice(file: file)
        defer { device.signal(SIGTERM) }

        /// The subject of the certificate `openssl s_client` saw through the device.
        func certificate(_ arguments: [String]) async throws -> String {
            let output = try await runProgram(
                Self.openssl.path,
                ["s_client", "-connect", "\(vip):\(port)"] + arguments
            ).output
            return output.firstMatch(of: /subject=\s*CN\s*=\s*(\S+)/).map { String($0.1) } ?? output
        }
        #expect(await eventually { (try? await certificate(["-servername", "a.example.test"])) == "gateway-a" })
        #expect(try await certificate(["-servername", "desktop.apps.example.test"]) == "gateway-a")
        #expect(try await certificate(["-servername", "other.example.test"]) == "gateway-b")
        #expect(try await certificate(["-servername", "apps.example.test"]) == "gateway-b")
        #expect(try await certificate(["-noservername"]) == "gateway-b")

        // Not TLS: closed at once without a byte reaching a gateway, and counted.
        let plain = try await TestClient.connect(host: vip, port: port)
        let answer = try await withTimeout {
            try await plain.run { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a.example.test\r\n\r\n"))
                var reader = inbound.makeAsyncIterator()
                return try await reader.readToEnd().readableBytes
            }
        }
        #expect(answer == 0)
        // Silent: closed after the ClientHello timeout.
        let silent = try await TestClient.connect(host: vip, port: port)
        let closed = try await withTimeout {
            try await silent.run { inbound, _ in
                var reader = inbound.makeAsyncIterator()
                return try await reader.readToEnd().readableBytes
            }
        }
        #expect(closed == 0)
        let status = try await httpGet(admin, "/status")
        #expect(
            status.contains(#""rejectedClientHellos":2"#) || status.contains(#""rejectedClientHellos" : 2"#),
            "\(status)"
        )
        let metrics = (try? await httpGet(admin, "/metrics")) ?? ""
        #expect(
            metrics.contains(#"halb_tls_client_hello_rejected_total{virtual_server="rdp",reason="timeout"} 1"#),
            "\(metrics.split(separator: "\n").filter { $0.contains("client_hello") })"
        )
        for gateway in gateways { gateway.signal(SIGTERM) }
    }
}
