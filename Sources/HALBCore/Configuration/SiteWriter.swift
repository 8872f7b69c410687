/// Writes a ``Site`` as a configuration tree (and so as YAML), every field explicit, in the layout
/// ``SiteReader`` reads: `SiteReader.load(SiteWriter.node(site)) == site` for every valid site.
///
/// This is the site's canonical form: every text field (names included) is a quoted string and only numbers and
/// booleans are plain, so a name such as `2026`, `true` or `1e3` stays text in YAML and in JSON
/// (``ConfigNode/json()``).
public enum SiteWriter {
    /// The site as a tree.
    public static func node(_ site: Site) -> ConfigNode {
        .mapping([
            ConfigEntry("site", .string(site.name)),
            ConfigEntry("version", .int(site.version)),
            ConfigEntry("gateways", .sequence(site.gateways.map(Self.node))),
            ConfigEntry("devices", .sequence(site.devices.map(Self.node))),
            ConfigEntry("virtualServers", .sequence(site.virtualServers.map(Self.node))),
        ])
    }

    /// The site as YAML text.
    public static func yaml(_ site: Site) -> String {
        Self.node(site).yaml()
    }

    private static func node(_ gateway: Gateway) -> ConfigNode {
        .mapping([
            ConfigEntry("name", .string(gateway.name)),
            ConfigEntry("address", .string(gateway.address)),
            ConfigEntry(
                "ports",
                .mapping(
                    PayloadKind.allCases.map { ConfigEntry($0.rawValue, .int(gateway.ports[$0])) }
                        + (gateway.ports.udp.map { [ConfigEntry("udp", .int($0))] } ?? [])
                )
            ),
            ConfigEntry("weight", .int(gateway.weight)),
            ConfigEntry("enabled", .bool(gateway.enabled)),
            ConfigEntry("drain", .bool(gateway.drain)),
        ])
    }

    private static func node(_ device: Device) -> ConfigNode {
        .mapping([
            ConfigEntry("name", .string(device.name)),
            ConfigEntry("address", .string(device.address)),
            ConfigEntry("interface", .string(device.interface)),
        ])
    }

    private static func node(_ vs: VirtualServer) -> ConfigNode {
        var entries = [
            ConfigEntry("name", .string(vs.name)),
            ConfigEntry("enabled", .bool(vs.enabled)),
        ]
        if !vs.description.isEmpty { entries.append(ConfigEntry("description", .string(vs.description))) }
        if let publicAddress = vs.publicAddress { entries.append(ConfigEntry("publicAddress", .string(publicAddress))) }
        var vip = [ConfigEntry("ipv4", .string(vs.vip.ipv4))]
        if let ipv6 = vs.vip.ipv6 { vip.append(ConfigEntry("ipv6", .string(ipv6))) }
        if let interface = vs.vip.interface { vip.append(ConfigEntry("interface", .string(interface))) }
        entries.append(ConfigEntry("vip", .mapping(vip)))

        var vrrp: [ConfigEntry] = []
        if let routerID = vs.vrrp.routerID { vrrp.append(ConfigEntry("routerId", .int(routerID))) }
        vrrp += [
            ConfigEntry("advertInterval", .duration(vs.vrrp.advertInterval)),
            ConfigEntry("preempt", .bool(vs.vrrp.preempt)),
            ConfigEntry("preemptDelay", .duration(vs.vrrp.preemptDelay)),
            ConfigEntry("unicast", .bool(vs.vrrp.unicast)),
            ConfigEntry("acceptFrom", .string(vs.vrrp.acceptFrom.rawValue)),
        ]
        entries.append(ConfigEntry("vrrp", .mapping(vrrp)))

        entries.append(
            ConfigEntry(
                "devices",
                .sequence(
                    vs.devices.map { assignment in
                        guard let priority = assignment.priority else { return .string(assignment.name) }
                        return .mapping([
                            ConfigEntry("name", .string(assignment.name)), ConfigEntry("priority", .int(priority)),
                        ])
                    }
                )
            )
        )

        var udpEntries: [ConfigEntry] = []
        if let udp = vs.udp {
            var fields = [
                ConfigEntry("enabled", .bool(udp.enabled)), ConfigEntry("ports", .sequence(udp.ports.map { .int($0) })),
            ]
            if !udp.gateways.isEmpty {
                fields.append(ConfigEntry("gateways", .sequence(udp.gateways.map { .string($0) })))
            }
            fields += [
                ConfigEntry("balancing", .string(udp.balancing.rawValue)),
                ConfigEntry("idleTimeout", .duration(udp.idleTimeout)),
                ConfigEntry("maxFlows", .int(udp.maxFlows)),
            ]
            if let health = udp.healthCheck {
                var check = [
                    ConfigEntry("type", .string(health.type.rawValue)),
                    ConfigEntry("interval", .duration(health.interval)),
                    ConfigEntry("timeout", .duration(health.timeout)),
                    ConfigEntry("rise", .int(health.rise)),
                    ConfigEntry("fall", .int(health.fall)),
                ]
                check.append(Self.bytes(health.send, field: "send"))
                if let expect = health.expect { check.append(Self.bytes(expect, field: "expect")) }
                fields.append(ConfigEntry("healthCheck", .mapping(check)))
            }
            udpEntries = [ConfigEntry("udp", .mapping(fields))]
        }
        entries.append(
            ConfigEntry(
                "payloads",
                .mapping(
                    udpEntries
                        + vs.payloads.map { payload in
                            var fields = [
                                ConfigEntry("enabled", .bool(payload.enabled)),
                                ConfigEntry("port", .int(payload.port)),
                            ]
                            if !payload.gateways.isEmpty {
                                fields.append(ConfigEntry("gateways", .sequence(payload.gateways.map { .string($0) })))
                            }
                            fields.append(ConfigEntry("balancing", .string(payload.balancing.rawValue)))
                            if payload.kind == .ssl {
                                fields.append(ConfigEntry("mode", .string(payload.sslMode.rawValue)))
                                if let certificate = payload.certificate {
                                    fields.append(ConfigEntry("certificate", .string(certificate)))
                                }
                                if let key = payload.privateKey {
                                    fields.append(ConfigEntry("privateKey", .string(key)))
                                }
                                if let name = payload.managedCertificate {
                                    fields.append(ConfigEntry("managedCertificate", .string(name)))
                                }
                                if !payload.alpn.isEmpty {
                                    fields.append(ConfigEntry("alpn", .sequence(payload.alpn.map { .string($0) })))
                                }
                                fields.append(
                                    ConfigEntry("minimumTLSVersion", .string(payload.minimumTLSVersion.rawValue))
                                )
                                switch payload.ciphers {
                                case .modern: fields.append(ConfigEntry("ciphers", .string("modern")))
                                case .intermediate: fields.append(ConfigEntry("ciphers", .string("intermediate")))
                                case .list(let suites):
                                    fields.append(ConfigEntry("ciphers", .sequence(suites.map { .string($0) })))
                                }
                                if let gatewayTLS = payload.gatewayTLS {
                                    var tls = [ConfigEntry("verify", .bool(gatewayTLS.verify))]
                                    if let bundle = gatewayTLS.caBundle {
                                        tls.append(ConfigEntry("caBundle", .string(bundle)))
                                    }
                                    fields.append(ConfigEntry("gatewayTLS", .mapping(tls)))
                                }
                            }
                            if !payload.sni.isEmpty {
                                fields.append(
                                    ConfigEntry(
                                        "sni",
                                        .mapping(
                                            payload.sni.map {
                                                ConfigEntry($0.serverName, .sequence($0.gateways.map { .string($0) }))
                                            }
                                        )
                                    )
                                )
                            }
                            return ConfigEntry(payload.kind.rawValue, .mapping(fields))
                        }
                )
            )
        )

        var check = [
            ConfigEntry("type", .string(vs.healthCheck.type.rawValue)),
            ConfigEntry("interval", .duration(vs.healthCheck.interval)),
            ConfigEntry("timeout", .duration(vs.healthCheck.timeout)),
            ConfigEntry("rise", .int(vs.healthCheck.rise)),
            ConfigEntry("fall", .int(vs.healthCheck.fall)),
            ConfigEntry("path", .string(vs.healthCheck.path)),
        ]
        if let status = vs.healthCheck.expectedStatus { check.append(ConfigEntry("expectedStatus", .int(status))) }
        entries.append(ConfigEntry("healthCheck", .mapping(check)))
        entries.append(
            ConfigEntry(
                "timeouts",
                .mapping([
                    ConfigEntry("connect", .duration(vs.timeouts.connect)),
                    ConfigEntry("clientIdle", .duration(vs.timeouts.clientIdle)),
                    ConfigEntry("gatewayIdle", .duration(vs.timeouts.gatewayIdle)),
                    ConfigEntry("clientHello", .duration(vs.timeouts.clientHello)),
                ])
            )
        )
        entries.append(
            ConfigEntry(
                "limits",
                .mapping([
                    ConfigEntry("maxConnections", .int(vs.limits.maxConnections)),
                    ConfigEntry("maxConnectionsPerGateway", .int(vs.limits.maxConnectionsPerGateway)),
                ])
            )
        )
        entries.append(ConfigEntry("proxyProtocol", .string(vs.proxyProtocol.rawValue)))
        entries.append(
            ConfigEntry(
                "persistence",
                .mapping([
                    ConfigEntry("type", .string(vs.persistence.type.rawValue)),
                    ConfigEntry("timeout", .duration(vs.persistence.timeout)),
                ])
            )
        )
        return .mapping(entries)
    }

    /// Printable ASCII as `field` text, anything else as `field`Hex.
    private static func bytes(_ bytes: [UInt8], field: String) -> ConfigEntry {
        if bytes.allSatisfy({ (0x20..<0x7f).contains($0) }) {
            return ConfigEntry(field, .string(String(decoding: bytes, as: UTF8.self)))
        }
        return ConfigEntry(field + "Hex", .string(bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()))
    }
}

extension ConfigNode {
    fileprivate static func int(_ value: Int) -> ConfigNode { .plain(String(value)) }
    fileprivate static func bool(_ value: Bool) -> ConfigNode { .plain(value ? "true" : "false") }
    fileprivate static func duration(_ value: HALBDuration) -> ConfigNode { .plain(value.description) }
}
