import Foundation
import HALBCore
import Testing

private func fixture(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    return try String(contentsOf: url, encoding: .utf8)
}

/// The issues of a document, as `halb validate` prints them.
private func issues(_ yaml: String) -> [String] {
    do {
        _ = try SiteReader.load(yaml: yaml)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

@Suite struct SiteConfigurationTests {
    @Test func theExampleFileLoadsWithItsValuesAndDefaults() throws {
        let site = try SiteReader.load(yaml: try fixture("example-site.yaml"))
        #expect(site.name == "demo")
        #expect(site.gateways.map(\.name) == ["gw1", "gw2", "gw3"])
        #expect(site.gateways[0].ports == GatewayPorts(gateway: 18081, ssl: 443, clientManagement: 20009))
        #expect(site.gateways[0].weight == 1)
        #expect(site.devices == [Device(name: "lb1", address: "127.0.0.1", interface: "lo")])
        let vs = try #require(site.virtualServers.first)
        #expect(vs.vip == VirtualIP(ipv4: "127.0.0.10/8"))
        #expect(vs.devices == [DeviceAssignment(name: "lb1")])
        #expect(
            vs.payloads == [
                Payload(kind: .gateway, port: 8080, gateways: ["gw1", "gw2", "gw3"], balancing: .leastconn)
            ]
        )
        #expect(
            vs.healthCheck
                == HealthCheck(type: .tcp, interval: .milliseconds(500), timeout: .milliseconds(300), rise: 2, fall: 2)
        )
        // Defaults of everything the file leaves out.
        #expect(vs.enabled)
        #expect(
            vs.vrrp
                == VRRPSettings(
                    routerID: nil,
                    advertInterval: .milliseconds(100),
                    preempt: true,
                    preemptDelay: .seconds(0)
                )
        )
        #expect(vs.vrrp.acceptFrom == .peers)
        #expect(site.routerID(ofVirtualServerAt: 0) == 1)
        #expect(vs.timeouts == Timeouts(connect: .seconds(5), clientIdle: .hours(1), gatewayIdle: .hours(1)))
        #expect(vs.limits == Limits(maxConnections: 20_000, maxConnectionsPerGateway: 0))
        #expect(vs.proxyProtocol == .off)
        #expect(vs.healthCheck.path == "/")
        #expect(vs.healthCheck.accepts(status: 302) && !vs.healthCheck.accepts(status: 404))
    }

    @Test func payloadDefaults() throws {
        let site = try SiteReader.load(
            yaml: """
                site: s
                gateways: [{ name: g, address: 192.0.2.1 }]
                devices: [{ name: d, address: 192.0.2.2 }]
                virtualServers:
                  - name: v
                    vip: { ipv4: 192.0.2.10/24 }
                    devices: [d]
                    payloads: { gateway: , ssl: {}, clientManagement: ~ }
                """
        )
        let payloads = site.virtualServers[0].payloads
        #expect(payloads.map(\.port) == [80, 443, 20009])
        #expect(payloads.allSatisfy { $0.enabled && $0.balancing == .leastconn && $0.gateways.isEmpty })
        #expect(payloads[1].sslMode == .passthrough)
        #expect(site.devices[0].interface == "eth0")
    }

    @Test(arguments: ["example-site.yaml", "full-site.yaml"])
    func writingAndReadingBackGivesTheSameSite(file: String) throws {
        let site = try SiteReader.load(yaml: try fixture(file))
        let written = SiteWriter.yaml(site)
        let reread = try SiteReader.load(yaml: written)
        #expect(reread == site)
        #expect(SiteWriter.yaml(reread) == written)
    }

    /// A written site reads as a person would write it: plain words plain, and in quotes only what another YAML
    /// reader could take for a number, a boolean or null, or what YAML itself needs quoted.
    @Test func aWrittenSiteQuotesOnlyWhatNeedsIt() throws {
        let site = try SiteReader.load(
            yaml: """
                site: lab
                gateways:
                  - { name: "2026", address: 192.0.2.21, ports: { gateway: 8080 } }
                  - { name: "yes", address: gw.example.com, ports: { gateway: 8080 } }
                devices:
                  - { name: lb-1, address: 192.0.2.11 }
                virtualServers:
                  - name: web
                    vip: { ipv4: 192.0.2.100/24 }
                    devices: [lb-1]
                    payloads:
                      gateway: { port: 80 }

                """
        )
        let written = SiteWriter.yaml(site)
        #expect(written.hasPrefix("site: lab\n"), "\(written)")
        #expect(written.contains("name: \"2026\""), "\(written)")
        #expect(written.contains("name: \"yes\""), "\(written)")
        #expect(written.contains("address: gw.example.com"), "\(written)")
        #expect(written.contains("address: \"192.0.2.21\""), "\(written)")
        #expect(written.contains("name: lb-1"), "\(written)")
        #expect(written.contains("balancing: leastconn"), "\(written)")
        #expect(try SiteReader.load(yaml: written) == site)
        // JSON keeps every text a string.
        let json = SiteWriter.node(site).json()
        #expect(json.contains("\"name\":\"2026\"") || json.contains("\"name\": \"2026\""), "\(json)")
    }

    @Test func theFullExampleKeepsEveryField() throws {
        let site = try SiteReader.load(yaml: try fixture("full-site.yaml"))
        let vs = site.virtualServers[0]
        #expect(site.version == 42)
        #expect(vs.vip == VirtualIP(ipv4: "192.0.2.10/24", ipv6: "2001:db8::10/64", interface: "eth1"))
        #expect(
            vs.vrrp
                == VRRPSettings(
                    routerID: 51,
                    advertInterval: .milliseconds(100),
                    preempt: true,
                    preemptDelay: .seconds(30),
                    acceptFrom: .any
                )
        )
        #expect(site.virtualServers[1].vrrp.acceptFrom == .peers)
        #expect(vs.devices == [DeviceAssignment(name: "lb1"), DeviceAssignment(name: "lb2", priority: 90)])
        #expect(vs.payload(.clientManagement)?.enabled == false)
        #expect(vs.timeouts.gatewayIdle == .minutes(90))
        #expect(vs.proxyProtocol == .v2)
        #expect(vs.persistence == Persistence(type: .sourceIP, timeout: .hours(2)))
        #expect(vs.timeouts.clientHello == .seconds(3))
        #expect(
            vs.payload(.ssl)?.sni == [
                SNIRoute(serverName: "desktop.example.com", gateways: ["gw-a"]),
                SNIRoute(serverName: "*.apps.example.com", gateways: ["gw-b", "gw-a"]),
            ]
        )
        #expect(site.virtualServers[1].persistence == Persistence())
        var udp = UDPPayload(ports: [443, 3391], balancing: .roundrobin, idleTimeout: .seconds(90), maxFlows: 50000)
        udp.healthCheck = HealthCheck(
            type: .udp,
            interval: .seconds(5),
            timeout: .seconds(1),
            send: [0xff, 0, 0, 0],
            expect: nil
        )
        #expect(vs.udp == udp)
        #expect(site.virtualServers[1].udp == nil)
        let offload = try #require(site.virtualServers[1].payload(.ssl))
        #expect(
            offload.sslMode == .offload && offload.certificate == "/etc/halb/portal.pem"
                && offload.privateKey == "/etc/halb/portal.key"
        )
        #expect(offload.minimumTLSVersion == .v1_3)
        #expect(offload.alpn == ["http/1.1"] && offload.managedCertificate == nil)
        #expect(offload.gatewayTLS == GatewayTLS(verify: true, caBundle: "/etc/halb/gateways-ca.pem"))
        #expect(offload.ciphers == .list(["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]))
        #expect(vs.payload(.ssl)?.ciphers == .modern)
        #expect(site.virtualServers[1].healthCheck.expectedStatus == 204)
        #expect(site.gateways[2].drain)
    }

    static let base = """
        site: demo
        gateways:
          - { name: gw1, address: 127.0.0.1, ports: { gateway: 18081 } }
          - { name: gw2, address: 127.0.0.1, ports: { gateway: 18082 } }
        devices:
          - { name: lb1, address: 127.0.0.1, interface: lo }
        virtualServers:
          - name: web
            vip: { ipv4: 127.0.0.10/8 }
            devices: [lb1]
            payloads:
              gateway: { port: 8080, gateways: [gw1, gw2] }
            healthCheck: { type: tcp }

        """

    /// (replace this, with that, expect this issue)
    static let badValues: [(String, String, String)] = [
        ("port: 8080", "port: 70000", "virtualServers[0].payloads.gateway.port: 70000 is not a port (1-65535)"),
        ("port: 8080", "port: eighty", "virtualServers[0].payloads.gateway.port: \"eighty\" is not a whole number"),
        ("gateway: 18081", "gateway: 0", "gateways[0].ports.gateway: 0 is not a port (1-65535)"),
        ("site: demo", "site: \"my site\"", "site: \"my site\" is not a site name"),
        ("site: demo", "site: ~", "site: missing: this field is required"),
        (
            "address: 127.0.0.1, ports: { gateway: 18081 }", "address: 300.1.1.1, ports: { gateway: 18081 }",
            "gateways[0].address: \"300.1.1.1\" is not an IP address or host name"
        ),
        ("name: gw2", "name: gw1", "gateways[1].name: \"gw1\" is already the name of gateways[0]"),
        (
            "ports: { gateway: 18082 } }", "ports: { gateway: 18082 }, weight: 0 }",
            "gateways[1].weight: 0 is not a weight (1-256)"
        ),
        (
            "ports: { gateway: 18082 } }", "ports: { gateway: 18082 }, drain: maybe }",
            "gateways[1].drain: \"maybe\" is not true or false"
        ),
        ("interface: lo", "interface: eth0/1", "devices[0].interface: \"eth0/1\" is not an interface name"),
        (
            "ipv4: 127.0.0.10/8", "ipv4: 127.0.0.10/33",
            "virtualServers[0].vip.ipv4: \"127.0.0.10/33\" is not an IPv4 address with prefix length"
        ),
        (
            "ipv4: 127.0.0.10/8", "ipv4: 127.0.0.10/8, ipv6: 2001:db8::zz/64",
            "virtualServers[0].vip.ipv6: \"2001:db8::zz/64\" is not an IPv6 address"
        ),
        (
            "devices: [lb1]", "devices: [lb1, lb7]",
            "virtualServers[0].devices[1]: \"lb7\" is not a device of this site (known: lb1)"
        ),
        ("devices: [lb1]", "devices: [lb1, lb1]", "virtualServers[0].devices[1]: \"lb1\" is listed twice"),
        ("devices: [lb1]", "devices: []", "virtualServers[0].devices: the list is empty"),
        (
            "devices: [lb1]", "devices: [{ name: lb1, priority: 300 }]",
            "virtualServers[0].devices[0].priority: 300 is not a VRRP priority (1-255)"
        ),
        (
            "gateways: [gw1, gw2]", "gateways: [gw1, gw9]",
            "virtualServers[0].payloads.gateway.gateways[1]: \"gw9\" is not a gateway of this site (known: gw1, gw2)"
        ),
        (
            "gateways: [gw1, gw2] }", "gateways: [gw1, gw2], balancing: fastest }",
            "virtualServers[0].payloads.gateway.balancing: \"fastest\" is not one of roundrobin, leastconn, sourcehash, random"
        ),
        (
            "gateways: [gw1, gw2] }", "gateways: [gw1, gw2], enabled: false }",
            "virtualServers[0].payloads: no payload is enabled"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "gateway: { port: 8080 }\n      ssl: { port: 8080 }",
            "virtualServers[0].payloads.ssl.port: 8080 is already the port of the gateway payload"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { mode: offload }",
            "virtualServers[0].payloads.ssl.certificate: missing: mode offload needs the PEM file of the certificate chain"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { mode: offload, certificate: /c.pem }",
            "virtualServers[0].payloads.ssl.privateKey: missing: mode offload needs the PEM file of the private key"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, certificate: c.pem, privateKey: /k.pem }",
            "virtualServers[0].payloads.ssl.certificate: \"c.pem\" is not an absolute path"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, certificate: /c.pem, privateKey: /k.pem, minimumTLSVersion: \"1.1\" }",
            "virtualServers[0].payloads.ssl.minimumTLSVersion: \"1.1\" is not one of 1.2, 1.3"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, certificate: /c.pem, privateKey: /k.pem, ciphers: strong }",
            "virtualServers[0].payloads.ssl.ciphers: \"strong\" is not modern, intermediate or a list of cipher suites"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, certificate: /c.pem, privateKey: /k.pem, ciphers: [RC4-MD5] }",
            "virtualServers[0].payloads.ssl.ciphers[0]: \"RC4-MD5\" is not a TLS 1.2 cipher suite"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, certificate: /c.pem, privateKey: /k.pem, sni: { a.example.test: [gw1] } }",
            "virtualServers[0].payloads.ssl.sni: SNI routing is for mode passthrough"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { certificate: /c.pem }",
            "virtualServers[0].payloads.ssl.certificate: only mode offload uses a certificate"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { managedCertificate: rdp }",
            "virtualServers[0].payloads.ssl.managedCertificate: only mode offload uses a certificate"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, managedCertificate: rdp, certificate: /c.pem }",
            "virtualServers[0].payloads.ssl.certificate: give either managedCertificate (uploaded to the console) or certificate and privateKey (files), not both"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { mode: offload, managedCertificate: \"a b\" }",
            "virtualServers[0].payloads.ssl.managedCertificate: \"a b\" is not a certificate name"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, managedCertificate: rdp, alpn: [h2, \"http 1.1\"] }",
            "virtualServers[0].payloads.ssl.alpn[1]: \"http 1.1\" is not an application protocol name"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, managedCertificate: rdp, alpn: [h2, h2] }",
            "virtualServers[0].payloads.ssl.alpn[1]: \"h2\" is listed twice"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { alpn: [h2] }",
            "virtualServers[0].payloads.ssl.alpn: only mode offload offers ALPN"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { gatewayTLS: { verify: true } }",
            "virtualServers[0].payloads.ssl.gatewayTLS: only mode offload re-encrypts"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, certificate: /c.pem, privateKey: /k.pem, gatewayTLS: { caBundle: ca.pem } }",
            "virtualServers[0].payloads.ssl.gatewayTLS.caBundle: \"ca.pem\" is not an absolute path"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { mode: offload, certificate: /c.pem, privateKey: /k.pem, gatewayTLS: { check: yes } }",
            "virtualServers[0].payloads.ssl.gatewayTLS.check: unknown field \"check\""
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { port: 3391 }",
            "virtualServers[0].payloads.udp.port: unknown field \"port\""
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { ports: [] }",
            "virtualServers[0].payloads.udp.ports: the list is empty"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { ports: [443, 70000] }",
            "virtualServers[0].payloads.udp.ports[1]: 70000 is not a port (1-65535)"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { ports: [443, 443] }",
            "virtualServers[0].payloads.udp.ports[1]: 443 is listed twice"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { gateways: [gw7] }",
            "virtualServers[0].payloads.udp.gateways[0]: \"gw7\" is not a gateway of this site"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { idleTimeout: 500ms }",
            "virtualServers[0].payloads.udp.idleTimeout: 500ms is not a UDP idle timeout (1s to 1h)"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { maxFlows: 0 }",
            "virtualServers[0].payloads.udp.maxFlows: 0 is not a flow limit"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { healthCheck: { type: tcp } }",
            "virtualServers[0].payloads.udp.healthCheck.type: tcp is not udp"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { healthCheck: { sendHex: 0x1 } }",
            "virtualServers[0].payloads.udp.healthCheck.sendHex: \"0x1\" is not hex bytes"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { healthCheck: { send: a, sendHex: \"61\" } }",
            "virtualServers[0].payloads.udp.healthCheck.sendHex: give send (text) or sendHex (bytes), not both"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { healthCheck: { path: / } }",
            "virtualServers[0].payloads.udp.healthCheck.path: unknown field \"path\""
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "udp: { healthCheck: { interval: 1s, timeout: 2s } }",
            "virtualServers[0].payloads.udp.healthCheck.timeout: 2s is longer than the interval 1s"
        ),
        (
            "ports: { gateway: 18082 } }", "ports: { gateway: 18082, udp: 0 } }",
            "gateways[1].ports.udp: 0 is not a port (1-65535)"
        ),
        (
            "{ type: tcp }", "{ type: icmp }",
            "virtualServers[0].healthCheck.type: \"icmp\" is not one of tcp, http, tls, udp"
        ),
        ("{ type: tcp }", "{ type: udp }", "virtualServers[0].healthCheck.type: udp checks belong to the udp payload"),
        (
            "{ type: tcp }", "{ interval: 5 }",
            "virtualServers[0].healthCheck.interval: \"5\" is not a duration (write it like 250ms, 2s, 5m or 1h)"
        ),
        (
            "{ type: tcp }", "{ interval: 50ms, timeout: 10ms }",
            "virtualServers[0].healthCheck.interval: 50ms is not a check interval (100ms to 1h)"
        ),
        (
            "{ type: tcp }", "{ interval: 1s, timeout: 2s }",
            "virtualServers[0].healthCheck.timeout: 2s is longer than the interval 1s"
        ),
        ("{ type: tcp }", "{ rise: 0 }", "virtualServers[0].healthCheck.rise: 0 is not a rise count (1-100)"),
        ("{ type: tcp }", "{ fall: 101 }", "virtualServers[0].healthCheck.fall: 101 is not a fall count (1-100)"),
        (
            "{ type: tcp }", "{ type: http, path: \"/a b\" }",
            "virtualServers[0].healthCheck.path: \"/a b\" is not an HTTP path"
        ),
        (
            "{ type: tcp }", "{ type: http, expectedStatus: 99 }",
            "virtualServers[0].healthCheck.expectedStatus: 99 is not an HTTP status (100-599)"
        ),
        (
            "{ type: tcp }", "{ type: tcp, colour: blue }",
            "virtualServers[0].healthCheck.colour: unknown field \"colour\""
        ),
        (
            "    healthCheck: { type: tcp }", "    timeouts: { connect: 0s }",
            "virtualServers[0].timeouts.connect: 0s is not a connect timeout (1ms to 1h)"
        ),
        (
            "    healthCheck: { type: tcp }", "    timeouts: { clientIdle: 8d }",
            "virtualServers[0].timeouts.clientIdle: \"8d\" is not a duration"
        ),
        (
            "    healthCheck: { type: tcp }", "    limits: { maxConnections: 0 }",
            "virtualServers[0].limits.maxConnections: 0 is not a connection limit (1-10000000)"
        ),
        (
            "    healthCheck: { type: tcp }", "    limits: { maxConnectionsPerGateway: -1 }",
            "virtualServers[0].limits.maxConnectionsPerGateway: -1 is not a connection limit (0 = none) (0-10000000)"
        ),
        (
            "    healthCheck: { type: tcp }", "    proxyProtocol: v3",
            "virtualServers[0].proxyProtocol: \"v3\" is not one of off, v1, v2"
        ),
        (
            "    healthCheck: { type: tcp }", "    vrrp: { routerId: 256 }",
            "virtualServers[0].vrrp.routerId: 256 is not a VRRP router id (1-255)"
        ),
        (
            "    healthCheck: { type: tcp }", "    vrrp: { advertInterval: 5ms }",
            "virtualServers[0].vrrp.advertInterval: 5ms is not a VRRP advert interval"
        ),
        (
            "    healthCheck: { type: tcp }", "    vrrp: { advertInterval: 105ms }",
            "virtualServers[0].vrrp.advertInterval: 105ms is not a VRRP advert interval"
        ),
        (
            "    healthCheck: { type: tcp }", "    vrrp: { preempt: sometimes }",
            "virtualServers[0].vrrp.preempt: \"sometimes\" is not true or false"
        ),
        (
            "    healthCheck: { type: tcp }", "    vrrp: { acceptFrom: everyone }",
            "virtualServers[0].vrrp.acceptFrom: \"everyone\" is not one of peers, any"
        ),
        (
            "    healthCheck: { type: tcp }", "    vrrp: { preemptDelay: 2h }",
            "virtualServers[0].vrrp.preemptDelay: 2h is not a preempt delay (0s to 1h)"
        ),
        (
            "    healthCheck: { type: tcp }", "    publicAddress: \"not a host\"",
            "virtualServers[0].publicAddress: \"not a host\" is not an IP address or host name"
        ),
        ("virtualServers:", "virtualServer:", "virtualServer: unknown field \"virtualServer\""),
        ("    vip: { ipv4: 127.0.0.10/8 }\n", "", "virtualServers[0].vip: missing"),
        (
            "    vip: { ipv4: 127.0.0.10/8 }", "    vip: 127.0.0.10",
            "virtualServers[0].vip: \"127.0.0.10\" is not a mapping of fields"
        ),
        ("devices: [lb1]", "devices: lb1", "virtualServers[0].devices: \"lb1\" is not a list"),
        (
            "gateways: [gw1, gw2] }", "gateways: [gw1, gw2], sni: { a.example.test: [gw1] } }",
            "virtualServers[0].payloads.gateway.sni: unknown field \"sni\""
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { sni: [gw1] }",
            "virtualServers[0].payloads.ssl.sni: a list is not a mapping of server names to gateway lists"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { sni: { \"bad name\": [gw1] } }",
            "virtualServers[0].payloads.ssl.sni.bad name: \"bad name\" is not a server name"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { sni: { \"*.*.test\": [gw1] } }",
            "virtualServers[0].payloads.ssl.sni.*.*.test: \"*.*.test\" is not a server name"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { sni: { a.example.test: [gw9] } }",
            "virtualServers[0].payloads.ssl.sni.a.example.test[0]: \"gw9\" is not a gateway of this site"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }", "ssl: { sni: { a.example.test: [] } }",
            "virtualServers[0].payloads.ssl.sni.a.example.test: no gateways"
        ),
        (
            "gateway: { port: 8080, gateways: [gw1, gw2] }",
            "ssl: { sni: { a.example.test: [gw1], A.Example.test: [gw2] } }",
            "virtualServers[0].payloads.ssl.sni.A.Example.test: \"A.Example.test\" is already routed"
        ),
        (
            "    healthCheck: { type: tcp }", "    persistence: { type: sticky }",
            "virtualServers[0].persistence.type: \"sticky\" is not one of none, sourceIP"
        ),
        (
            "    healthCheck: { type: tcp }", "    persistence: { type: sourceIP, timeout: 500ms }",
            "virtualServers[0].persistence.timeout: 500ms is not a persistence timeout (1s to 168h)"
        ),
        (
            "    healthCheck: { type: tcp }", "    timeouts: { clientHello: 2m }",
            "virtualServers[0].timeouts.clientHello: 2m is not a ClientHello timeout (10ms to 1m)"
        ),
    ]

    @Test(arguments: badValues)
    func everyBadValueIsReportedWithItsPath(find: String, replace: String, expected: String) throws {
        #expect(Self.base.contains(find), "test case does not apply: \(find)")
        let found = issues(Self.base.replacingOccurrences(of: find, with: replace))
        #expect(found.contains { $0.hasPrefix(expected) }, "got \(found)")
    }

    @Test func theBaseOfTheBadValueTableIsValid() {
        #expect(issues(Self.base) == [])
    }

    @Test func everyErrorIsReportedInOneRun() {
        let yaml = Self.base
            .replacingOccurrences(of: "port: 8080", with: "port: 70000")
            .replacingOccurrences(of: "[gw1, gw2] }", with: "[gw1, gw9], balancing: fastest }")
            .replacingOccurrences(of: "{ type: tcp }", with: "{ interval: 5 }")
        #expect(
            issues(yaml) == [
                "virtualServers[0].payloads.gateway.balancing: \"fastest\" is not one of roundrobin, leastconn, sourcehash, random",
                "virtualServers[0].healthCheck.interval: \"5\" is not a duration (write it like 250ms, 2s, 5m or 1h)",
                "virtualServers[0].payloads.gateway.port: 70000 is not a port (1-65535)",
                "virtualServers[0].payloads.gateway.gateways[1]: \"gw9\" is not a gateway of this site (known: gw1, gw2)",
            ]
        )
    }

    @Test func duplicateVIPAndPortAcrossVirtualServers() {
        let yaml =
            Self.base + """
                  - name: web2
                    vip: { ipv4: 127.0.0.10/8 }
                    devices: [lb1]
                    payloads: { gateway: { port: 8080 } }

                """
        #expect(
            issues(yaml).contains {
                $0.hasPrefix(
                    "virtualServers[1].payloads.gateway.port: 127.0.0.10:8080 is already served by web.gateway"
                )
            }
        )
    }

    @Test func duplicateRouterIDOnOneInterface() {
        let yaml =
            Self.base + """
                  - name: web2
                    vip: { ipv4: 127.0.0.11/8 }
                    vrrp: { routerId: 1 }
                    devices: [lb1]
                    payloads: { gateway: { port: 8080 } }

                """
        #expect(
            issues(yaml) == [
                "virtualServers[1].vrrp.routerId: router id 1 on lb1's interface lo is already used by web"
            ]
        )
    }

    @Test func unicastVRRPNeedsIPv4DeviceAddresses() throws {
        let site = """
            site: s
            gateways: [{ name: gw1, address: 192.0.2.21 }]
            devices:
              - { name: lb1, address: 192.0.2.11 }
              - { name: lb2, address: lb2.example.net }
            virtualServers:
              - name: web
                vip: { ipv4: 192.0.2.100/24 }
                vrrp: { unicast: true }
                devices: [lb1, lb2]
                payloads: { gateway: {} }

            """
        #expect(
            issues(site) == [
                "virtualServers[0].vrrp.unicast: device \"lb2\" has address \"lb2.example.net\", not an IPv4 address to send advertisements to"
            ]
        )
        let fixed = site.replacingOccurrences(of: "lb2.example.net", with: "192.0.2.12")
        #expect(try SiteReader.load(yaml: fixed).virtualServers[0].vrrp.unicast)
        #expect(
            try SiteReader.load(yaml: fixed.replacingOccurrences(of: "vrrp: { unicast: true }", with: "vrrp: {}"))
                .virtualServers[0].vrrp.unicast == false
        )
        let withIPv6 = fixed.replacingOccurrences(
            of: "192.0.2.100/24 }",
            with: "192.0.2.100/24, ipv6: 2001:db8::100/64 }"
        )
        #expect(
            issues(withIPv6) == [
                "virtualServers[0].vrrp.unicast: unicast advertisements are IPv4 only, and the IPv6 VIP \"2001:db8::100/64\" needs multicast: remove vip.ipv6 or unicast"
            ]
        )
    }

    @Test func acceptFromIsReadWrittenAndReadBack() throws {
        let yaml = """
            site: s
            gateways: [{ name: gw1, address: 192.0.2.21 }]
            devices:
              - { name: lb1, address: 192.0.2.11 }
              - { name: lb2, address: 192.0.2.12 }
            virtualServers:
              - name: web
                vip: { ipv4: 192.0.2.100/24 }
                vrrp: { acceptFrom: any }
                devices: [lb1, lb2]
                payloads: { gateway: {} }
              - name: mail
                vip: { ipv4: 192.0.2.101/24 }
                vrrp: { acceptFrom: peers }
                devices: [lb1, lb2]
                payloads: { gateway: { port: 81 } }
              - name: news
                vip: { ipv4: 192.0.2.102/24 }
                devices: [lb1, lb2]
                payloads: { gateway: { port: 82 } }

            """
        let site = try SiteReader.load(yaml: yaml)
        #expect(site.virtualServers.map(\.vrrp.acceptFrom) == [.any, .peers, .peers])
        #expect(try SiteReader.load(SiteWriter.node(site)) == site)
        let written = SiteWriter.yaml(site)
        #expect(written.components(separatedBy: "acceptFrom: any").count == 2, "\(written)")
        #expect(written.components(separatedBy: "acceptFrom: peers").count == 3, "\(written)")
        #expect(try SiteReader.load(yaml: written) == site)
    }

    @Test func acceptingPeersOnlyNeedsTheirIPv4Addresses() throws {
        let site = """
            site: s
            gateways: [{ name: gw1, address: 192.0.2.21 }]
            devices:
              - { name: lb1, address: 192.0.2.11 }
              - { name: lb2, address: lb2.example.net }
              - { name: lb3, address: "2001:db8::13" }
            virtualServers:
              - name: web
                vip: { ipv4: 192.0.2.100/24 }
                devices: [lb1, lb2, lb3]
                payloads: { gateway: {} }
              # One device: no failover, so its address does not matter.
              - name: solo
                vip: { ipv4: 192.0.2.101/24 }
                devices: [lb2]
                payloads: { gateway: {} }

            """
        #expect(
            issues(site) == [
                "virtualServers[0].vrrp.acceptFrom: device \"lb2\" has address \"lb2.example.net\", not an IPv4 address to accept advertisements from: give the IPv4 address it advertises from, or set acceptFrom: any",
                "virtualServers[0].vrrp.acceptFrom: device \"lb3\" has address \"2001:db8::13\", not an IPv4 address to accept advertisements from: give the IPv4 address it advertises from, or set acceptFrom: any",
            ]
        )
        let any = site.replacingOccurrences(
            of: "devices: [lb1, lb2, lb3]",
            with: "vrrp: { acceptFrom: any }\n    devices: [lb1, lb2, lb3]"
        )
        #expect(try SiteReader.load(yaml: any).virtualServers[0].vrrp.acceptFrom == .any)
    }

    @Test func routerIDsMayRepeatOnDifferentInterfaces() {
        let yaml =
            Self.base + """
                  - name: web2
                    vip: { ipv4: 127.0.0.11/8, interface: eth1 }
                    vrrp: { routerId: 1 }
                    devices: [lb1]
                    payloads: { gateway: { port: 8080 } }

                """
        #expect(issues(yaml) == [])
    }

    @Test func yamlSyntaxErrorsNameTheLine() {
        let found = issues("site: demo\ngateways:\n  - { name: gw1, address: 127.0.0.1\n")
        #expect(found.count == 1)
        #expect(found.first?.contains("line 4") == true || found.first?.contains("line 3") == true, "got \(found)")
        #expect(issues("site: a\nsite: b\n").first?.contains("duplicate key \"site\"") == true)
    }

    @Test func anEmptyFileIsOneClearError() {
        #expect(
            issues("") == ["the file is empty: expected a site with `site`, `gateways`, `devices` and `virtualServers`"]
        )
        #expect(issues("- a\n- b\n") == ["a list is not a mapping of fields"])
    }

    @Test func garbageNeverCrashes() {
        let inputs = [
            "\u{0}\u{1}", ":", "{", "[[[[", "site: [1, {a: }]", "? a\n: b", "!!binary aGVsbG8=",
            String(repeating: "[", count: 5000),
        ]
        for input in inputs {
            #expect(!issues(input).isEmpty, "accepted \(input.prefix(20))")
        }
    }
}

@Suite struct DurationTests {
    @Test(
        arguments: [
            ("250ms", 250), ("2s", 2000), ("1m", 60_000), ("1h", 3_600_000), ("1m30s", 90_000), ("0s", 0),
            (" 5s ", 5000),
        ] as [(String, Int64)]
    )
    func parses(text: String, milliseconds: Int64) {
        #expect(HALBDuration(parsing: text)?.milliseconds == milliseconds)
    }

    @Test(arguments: ["", "5", "s", "5x", "1.5s", "-1s", "5 s", "9999999999999999999h", "1h1"])
    func refuses(text: String) {
        #expect(HALBDuration(parsing: text) == nil)
    }

    @Test func formatsTheShortestForm() {
        #expect(HALBDuration.milliseconds(90_250).description == "1m30s250ms")
        #expect(HALBDuration.hours(2).description == "2h")
        #expect(HALBDuration.milliseconds(0).description == "0s")
    }
}
