import Foundation
import HALBTestSupport
import Testing

/// RDP-UDP through a real `halb device`: python UDP gateways and a python client with several sockets, the
/// gateways judged by the payload's own UDP check.
@Suite(.timeLimit(.minutes(2))) struct UDPDeviceTests {
    /// A UDP gateway on 127.0.0.1: prints its port, answers every datagram with "<name>:<datagram>".
    private static let gateway = """
        import socket, sys
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 0))
        print("port", server.getsockname()[1], flush=True)
        while True:
            data, peer = server.recvfrom(2048)
            server.sendto(sys.argv[1].encode() + b":" + data, peer)
        """

    /// Eight client sockets send three datagrams each to the VIP; prints, per socket, the gateways that answered.
    private static let client = """
        import socket, sys
        host, port = sys.argv[1], int(sys.argv[2])
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
        for index, client in enumerate(sockets):
            client.settimeout(1.0)
            names = []
            for round in range(3):
                client.sendto(b"hello %d" % round, (host, port))
                try:
                    names.append(client.recvfrom(2048)[0].split(b":")[0].decode())
                except socket.timeout:
                    names.append("none")
            print("client", index, ",".join(names), flush=True)
        """

    @Test func clientsKeepTheirGatewayAndAGatewayWithoutAnAnswerTakesNoFlows() async throws {
        var gateways: [(process: HALBProcess, port: Int)] = []
        for name in ["gw1", "gw2"] {
            let process = try HALBProcess(
                executable: URL(fileURLWithPath: "/usr/bin/python3"),
                arguments: ["-c", Self.gateway, name]
            )
            #expect(await eventually { process.text.contains("port ") }, "\(process.text)")
            gateways.append((process, Int(try #require(process.text.firstMatch(of: /port (\d+)/)?.1)) ?? 0))
        }
        defer { for gateway in gateways { gateway.process.signal(SIGTERM) } }
        let silentPort = try freePort()  // nothing answers there
        let directory = try TemporaryDirectory()
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        let file = try directory.write(
            "site.yaml",
            """
            site: lab
            gateways:
              - { name: gw1, address: 127.0.0.1, ports: { udp: \(gateways[0].port) } }
              - { name: gw2, address: 127.0.0.1, ports: { udp: \(gateways[1].port) } }
              - { name: gw3, address: 127.0.0.1, ports: { udp: \(silentPort) } }
            devices:
              - { name: lb1, address: 127.0.0.1, interface: lo }
            virtualServers:
              - name: rdp
                vip: { ipv4: \(vip)/8 }
                devices: [lb1]
                payloads:
                  gateway: { enabled: false }
                  udp:
                    ports: [\(port)]
                    balancing: roundrobin
                    healthCheck: { send: ping, expect: ":ping", interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }

            """
        )
        let (device, admin) = try await startDevice(file: file)
        defer { device.signal(SIGTERM) }
        #expect(
            await eventually {
                let status = (try? await httpGet(admin, "/status")) ?? ""
                return status.matches(of: /"health" ?: ?"up"/).count == 2
                    && status.matches(of: /"health" ?: ?"down"/).count == 1
            },
            "\(device.text)"
        )

        let result = try await runProgram("/usr/bin/python3", ["-c", Self.client, vip, "\(port)"])
        let lines = result.output.split(separator: "\n").filter { $0.hasPrefix("client ") }
        #expect(lines.count == 8, "\(result.output)")
        var used: Set<String> = []
        for line in lines {
            let names = line.split(separator: " ")[2].split(separator: ",").map(String.init)
            #expect(Set(names).count == 1 && names[0] != "none" && names[0] != "gw3", "\(line)")
            used.formUnion(names)
        }
        #expect(used == ["gw1", "gw2"], "\(result.output)")
        let status = try await httpGet(admin, "/status")
        #expect(status.firstMatch(of: /"udpFlows" ?: ?8/) != nil, "\(status)")
    }
}
