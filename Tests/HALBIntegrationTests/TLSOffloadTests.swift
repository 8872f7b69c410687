import Foundation
import HALBTestSupport
import Testing

/// The `ssl` payload in offload mode, end to end: `halb device` terminates TLS for curl, openssl s_client and a
/// Python client, in front of a plain HTTP/1.1 gateway.
@Suite(
    .timeLimit(.minutes(2)),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl")
)
struct TLSOffloadTests {
    /// A plain HTTP/1.1 gateway with keep-alive, answering "hello from the gateway".
    static let gateway = """
        import http.server, sys
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                body = b"hello from the gateway\\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *arguments):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """

    /// A TLS client that prints the certificate's common name, sends a request, waits until the file argv[5]
    /// exists, and sends another on the same connection.
    private static let keepAliveClient = """
        import os, socket, ssl, sys, time
        vip, port, cafile, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        context = ssl.create_default_context(cafile=cafile)
        with socket.create_connection((vip, port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="offload.test") as tls:
                print("subject", dict(entry[0] for entry in tls.getpeercert()["subject"])["commonName"], flush=True)
                for round in range(2):
                    if round == 1:
                        deadline = time.time() + 30
                        while not os.path.exists(go) and time.time() < deadline:
                            time.sleep(0.05)
                    tls.sendall(b"GET / HTTP/1.1\\r\\nHost: offload.test\\r\\n\\r\\n")
                    answer = b""
                    while not answer.endswith(b"hello from the gateway\\n"):
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        answer += chunk
                    print("answer", round, answer.split(b"\\r\\n")[0].decode(), flush=True)
        """

    @Test func theDeviceTerminatesTLSWithItsCertificateAndAReloadChangesItWithoutDroppingConnections() async throws {
        let directory = try TemporaryDirectory()
        let (first, firstKey) = try await makeCertificate(
            in: directory,
            name: "offload-1",
            subjectAltName: "DNS:offload.test"
        )
        let (second, secondKey) = try await makeCertificate(
            in: directory,
            name: "offload-2",
            subjectAltName: "DNS:offload.test"
        )
        let gatewayPort = try freePort()
        let gateway = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: ["-c", Self.gateway, "\(gatewayPort)"]
        )
        defer { gateway.signal(SIGTERM) }
        #expect(await accepts(port: gatewayPort), "\(gateway.text)")

        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        func site(certificate: String, key: String, minimum: String, version: Int) -> String {
            Self.offloadSite(
                version: version,
                gatewayPort: gatewayPort,
                vip: vip,
                ssl:
                    #"{ port: \#(port), mode: offload, certificate: \#(certificate), privateKey: \#(key), minimumTLSVersion: "\#(minimum)" }"#,
                healthCheck: "{ type: tcp, interval: 200ms, timeout: 100ms, rise: 1, fall: 2 }"
            )
        }
        let file = try directory.write("site.yaml", site(certificate: first, key: firstKey, minimum: "1.2", version: 1))
        let (device, admin) = try await startDevice(file: file)
        defer { device.signal(SIGTERM) }

        func curl(_ extra: [String] = [], trusting ca: String = first) async throws -> (status: Int32?, output: String)
        {
            try await runProgram(
                "/usr/bin/curl",
                ["-sS", "--max-time", "5", "--cacert", ca, "--resolve", "offload.test:\(port):\(vip)"] + extra + [
                    "https://offload.test:\(port)/"
                ]
            )
        }
        /// The common name of the certificate openssl s_client gets.
        func subject(_ extra: [String] = []) async throws -> String {
            let result = try await runProgram(
                "/usr/bin/openssl",
                ["s_client", "-connect", "\(vip):\(port)", "-servername", "offload.test"] + extra
            )
            return result.output.firstMatch(of: /subject=\s*CN\s*=\s*(\S+)/).map { String($0.1) } ?? "none"
        }

        // curl trusting the test certificate gets the gateway's answer through the device, over TLS 1.2 too.
        #expect(await eventually { (try? await curl())?.output == "hello from the gateway\n" })
        #expect(try await curl(["--tls-max", "1.2"]).output == "hello from the gateway\n")
        #expect(try await subject() == "offload-1")
        // TLS 1.1 is refused (the client is allowed to offer it).
        let old = try await runProgram(
            "/usr/bin/openssl",
            ["s_client", "-connect", "\(vip):\(port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
        )
        #expect(
            old.status != 0 && old.output.contains("alert protocol version") && old.output.contains("Cipher is (NONE)"),
            "\(old.output)"
        )

        // An established connection, mid-session.
        let go = directory.url.appendingPathComponent("go").path
        let client = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: ["-c", Self.keepAliveClient, vip, "\(port)", first, go]
        )
        #expect(await eventually { client.text.contains("answer 0 HTTP/1.1 200 OK") }, "\(client.text)")
        #expect(client.text.contains("subject offload-1"))

        // Reload: a new certificate and TLS 1.3 at least. New connections get both.
        try site(certificate: second, key: secondKey, minimum: "1.3", version: 2).write(
            toFile: file,
            atomically: true,
            encoding: .utf8
        )
        #expect(
            await eventually {
                device.text.contains("site.version=2") && device.text.contains("Configuration applied")
            },
            "\(device.text)"
        )
        #expect(try await subject() == "offload-2")
        #expect(try await curl(trusting: second).output == "hello from the gateway\n")
        let twelve = try await curl(["--tls-max", "1.2"], trusting: second)
        #expect(twelve.status != 0, "\(twelve.output)")
        // The established connection still works, on the old certificate.
        _ = FileManager.default.createFile(atPath: go, contents: Data())
        #expect(await eventually { client.text.contains("answer 1 HTTP/1.1 200 OK") }, "\(client.text)")

        // A key that does not go with the certificate is refused, naming the files; the running one keeps serving.
        let (_, strangerKey) = try await makeCertificate(in: directory, name: "stranger")
        try site(certificate: second, key: strangerKey, minimum: "1.2", version: 3).write(
            toFile: file,
            atomically: true,
            encoding: .utf8
        )
        #expect(await eventually { device.text.contains("does not belong to certificate \(second)") }, "\(device.text)")
        #expect(device.text.contains("Configuration rejected"))
        #expect(try await subject() == "offload-2")
        let validate = try await runHALB(["validate", "--device", "lb1", file])
        #expect(
            validate.status == 1
                && validate.output.contains("privateKey \(strangerKey) does not belong to certificate \(second)"),
            "\(validate.output)"
        )

        // /status and the metrics show the certificate and its expiry.
        let status = try await httpGet(admin, "/status")
        #expect(status.contains("CN=offload-2") && status.contains("notValidAfter"), "\(status)")
        let metrics = try await httpGet(admin, "/metrics")
        #expect(
            metrics.contains(#"halb_tls_certificate_expiry_timestamp_seconds{virtual_server="rdp",payload="ssl"}"#),
            "\(metrics)"
        )
    }
}

extension TLSOffloadTests {
    @Test func reEncryptionTrustsOnlyGatewaysWhoseCertificateChainsToTheBundle() async throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try await makeCertificate(
            in: directory,
            name: "offload",
            subjectAltName: "DNS:offload.test"
        )
        let (gatewayCertificate, gatewayKey) = try await makeCertificate(in: directory, name: "gateway")
        let (stranger, _) = try await makeCertificate(in: directory, name: "stranger")
        let gatewayPort = try freePort()
        let gateway = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/openssl"),
            arguments: [
                "s_server", "-accept", "127.0.0.1:\(gatewayPort)", "-cert", gatewayCertificate, "-key", gatewayKey,
                "-www",
            ]
        )
        defer { gateway.signal(SIGTERM) }
        #expect(await accepts(port: gatewayPort), "\(gateway.text)")
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        func site(_ gatewayTLS: String, version: Int) -> String {
            Self.offloadSite(
                version: version,
                gatewayPort: gatewayPort,
                vip: vip,
                ssl:
                    "{ port: \(port), mode: offload, certificate: \(certificate), privateKey: \(key), gatewayTLS: \(gatewayTLS) }",
                healthCheck: "{ type: tls, interval: 200ms, timeout: 150ms, rise: 1, fall: 2 }"
            )
        }
        let file = try directory.write("site.yaml", site("{ caBundle: \(gatewayCertificate) }", version: 1))
        let (device, admin) = try await startDevice(file: file)
        defer { device.signal(SIGTERM) }
        func curl() async throws -> (status: Int32?, output: String) {
            try await runProgram(
                "/usr/bin/curl",
                [
                    "-sS", "--max-time", "5", "--cacert", certificate, "--resolve", "offload.test:\(port):\(vip)",
                    "https://offload.test:\(port)/",
                ]
            )
        }

        // The gateway's certificate chains to the bundle: the request reaches it, re-encrypted.
        #expect(await eventually { (try? await curl())?.output.contains("s_server") == true })

        // A bundle that does not hold it: the handshake fails, the connection is refused and counted.
        try site("{ caBundle: \(stranger) }", version: 2).write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await eventually { device.text.contains("site.version=2") }, "\(device.text)")
        let refused = try await curl()
        #expect(refused.status != 0 && !refused.output.contains("s_server"), "\(refused.output)")
        let status = try await httpGet(admin, "/status")
        #expect(status.firstMatch(of: /"failedGatewayHandshakes" ?: ?[1-9]/) != nil, "\(status)")
        let metrics = try await httpGet(admin, "/metrics")
        #expect(
            metrics.contains(#"halb_tls_gateway_handshakes_failed_total{virtual_server="rdp",gateway="gw1"}"#),
            "\(metrics)"
        )

        // Verification explicitly off: the same gateway is used again.
        try site("{ verify: false, caBundle: \(stranger) }", version: 3).write(
            toFile: file,
            atomically: true,
            encoding: .utf8
        )
        #expect(await eventually { device.text.contains("site.version=3") }, "\(device.text)")
        #expect(await eventually { (try? await curl())?.output.contains("s_server") == true })
    }
}

extension TLSOffloadTests {
    /// `text`'s UTF-8 bytes in hex, as the test gateways print TLVs.
    static func hex(_ text: String) -> String {
        Array(text.utf8).map { String(format: "%02x", $0) }.joined()
    }

    /// A site of one gateway, gw1 (its `ssl` port `gatewayPort`), and one virtual server, rdp, on `vip` served by
    /// lb1: its ssl payload `ssl` (a YAML flow mapping), its health check, and `extra` (a line such as
    /// `proxyProtocol: v2`).
    static func offloadSite(
        version: Int? = nil,
        gatewayPort: Int,
        vip: String,
        ssl: String,
        healthCheck: String = "{ type: tcp, interval: 1h, timeout: 1s }",
        extra: String = ""
    ) -> String {
        """
        site: lab
        \(version.map { "version: \($0)" } ?? "")
        gateways:
          - { name: gw1, address: 127.0.0.1, ports: { ssl: \(gatewayPort) } }
        devices:
          - { name: lb1, address: 127.0.0.1, interface: lo }
        virtualServers:
          - name: rdp
            vip: { ipv4: \(vip)/8 }
            devices: [lb1]
            payloads:
              ssl: \(ssl.split(separator: "\n").joined(separator: "\n      "))
            healthCheck: \(healthCheck)
            \(extra)

        """
    }

    /// A TLS gateway behind a PROXY v2 header: reads the header in the clear and prints its TLVs in hex, then
    /// does TLS preferring h2 over http/1.1 with ALPN, prints the protocol negotiated and answers one HTTP/1.1
    /// request.
    private static let proxiedTLSGateway = """
        import socket, ssl, sys
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        context.set_alpn_protocols(["h2", "http/1.1"])
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(sys.argv[1])))
        server.listen()
        while True:
            connection, _ = server.accept()
            try:
                head = connection.recv(16, socket.MSG_WAITALL)
                if len(head) < 16:
                    connection.close()
                    continue
                rest = connection.recv(int.from_bytes(head[14:16], "big"), socket.MSG_WAITALL)
                print("tlvs", rest[12:].hex(), flush=True)
                with context.wrap_socket(connection, server_side=True) as tls:
                    print("alpn", tls.selected_alpn_protocol(), flush=True)
                    request = b""
                    while b"\\r\\n\\r\\n" not in request:
                        chunk = tls.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                    tls.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nok\\n")
            except (ssl.SSLError, OSError):
                pass
        """

    /// A gateway that reads a PROXY v2 header, prints its TLVs in hex, and answers one HTTP request.
    private static let proxyGateway = """
        import socket, sys
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", int(sys.argv[1])))
        server.listen()
        while True:
            connection, _ = server.accept()
            with connection:
                def read(count):
                    data = b""
                    while len(data) < count:
                        chunk = connection.recv(count - len(data))
                        if not chunk:
                            raise EOFError
                        data += chunk
                    return data
                try:
                    head = read(16)
                    rest = read(int.from_bytes(head[14:16], "big"))
                    print("tlvs", rest[12:].hex(), flush=True)
                    request = b""
                    while b"\\r\\n\\r\\n" not in request:
                        request += connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nok\\n")
                except (EOFError, OSError):
                    pass
        """

    /// Re-encryption passes on the client's ALPN choice, and a PROXY header goes in the clear before the handshake.
    @Test func reEncryptionOffersTheGatewayTheClientsProtocolAfterAPROXYHeaderInTheClear() async throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try await makeCertificate(
            in: directory,
            name: "offload",
            subjectAltName: "DNS:offload.test"
        )
        let (gatewayCertificate, gatewayKey) = try await makeCertificate(in: directory, name: "gateway")
        let gatewayPort = try freePort()
        let gateway = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: ["-c", Self.proxiedTLSGateway, "\(gatewayPort)", gatewayCertificate, gatewayKey]
        )
        defer { gateway.signal(SIGTERM) }
        #expect(await accepts(port: gatewayPort), "\(gateway.text)")
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        let file = try directory.write(
            "site.yaml",
            Self.offloadSite(
                gatewayPort: gatewayPort,
                vip: vip,
                ssl: """
                    { port: \(port), mode: offload, certificate: \(certificate), privateKey: \(key), alpn: [h2, http/1.1],
                      gatewayTLS: { caBundle: \(gatewayCertificate) } }
                    """,
                extra: "proxyProtocol: v2"
            )
        )
        let (device, _) = try await startDevice(file: file)
        defer { device.signal(SIGTERM) }
        var answer = (status: Int32?.none, output: "")
        #expect(
            await eventually {
                // The gateway prefers h2, the device offers h2 and http/1.1, the client offers http/1.1 only: the device
                // must offer the gateway the client's choice alone.
                answer =
                    (try? await runProgram(
                        "/usr/bin/curl",
                        [
                            "-sS", "--max-time", "5", "--http1.1", "--cacert", certificate, "--resolve",
                            "offload.test:\(port):\(vip)",
                            "https://offload.test:\(port)/",
                        ]
                    )) ?? answer
                return answer.output == "ok\n"
            },
            "\(answer.output) \(gateway.text) \(device.text)"
        )
        // The header (with the client's ALPN choice and server name) came first, then the TLS handshake.
        #expect(
            gateway.text.contains("tlvs 010008\(Self.hex("http/1.1"))02000c\(Self.hex("offload.test"))20"),
            "\(gateway.text)"
        )
        #expect(gateway.text.contains("alpn http/1.1") && !gateway.text.contains("alpn h2"), "\(gateway.text)")
    }

    @Test func aProxyV2HeaderTellsTheGatewayTheServerNameTLSVersionCipherAndApplicationProtocol() async throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try await makeCertificate(
            in: directory,
            name: "offload",
            subjectAltName: "DNS:offload.test"
        )
        let gatewayPort = try freePort()
        let gateway = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/bin/python3"),
            arguments: ["-c", Self.proxyGateway, "\(gatewayPort)"]
        )
        defer { gateway.signal(SIGTERM) }
        #expect(await accepts(port: gatewayPort), "\(gateway.text)")
        let vip = "127.0.\(Int.random(in: 1...250)).\(Int.random(in: 2...250))"
        let port = try freePort()
        let file = try directory.write(
            "site.yaml",
            Self.offloadSite(
                gatewayPort: gatewayPort,
                vip: vip,
                ssl:
                    "{ port: \(port), mode: offload, certificate: \(certificate), privateKey: \(key), alpn: [http/1.1] }",
                extra: "proxyProtocol: v2"
            )
        )
        let (device, _) = try await startDevice(file: file)
        defer { device.signal(SIGTERM) }
        var answer = (status: Int32?.none, output: "")
        #expect(
            await eventually {
                // curl offers h2 and http/1.1 with ALPN; the device offers http/1.1 only. The cipher is pinned.
                answer =
                    (try? await runProgram(
                        "/usr/bin/curl",
                        [
                            "-sS", "--max-time", "5", "--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256",
                            "--cacert", certificate,
                            "--resolve", "offload.test:\(port):\(vip)", "https://offload.test:\(port)/",
                        ]
                    )) ?? answer
                return answer.output == "ok\n"
            },
            "\(answer.output) \(gateway.text)"
        )
        // PP2_TYPE_ALPN "http/1.1", PP2_TYPE_AUTHORITY "offload.test", then PP2_TYPE_SSL: client SSL, verify 0,
        // version "TLSv1.3" and cipher "TLS_CHACHA20_POLY1305_SHA256" (28 bytes).
        let alpn = "010008" + Self.hex("http/1.1")
        let authority = "02000c" + Self.hex("offload.test")
        let ssl =
            "20002e" + "0100000000" + "210007" + Self.hex("TLSv1.3") + "23001c"
            + Self.hex("TLS_CHACHA20_POLY1305_SHA256")
        #expect(gateway.text.contains("tlvs \(alpn)\(authority)\(ssl)"), "\(gateway.text)")
    }
}
