/// Checks a ``Site`` as a whole: value ranges, names, addresses and cross-references (unknown gateway or device
/// names, duplicate VIP:port, duplicate VRRP router ids on one interface).
///
/// Every issue is returned, each with the path of the field and the offending value. A site with no issues is safe
/// to apply.
public struct SiteValidator: Sendable {
    /// Creates a validator.
    public init() {}

    /// Returns every issue in `site`, object by object in document order; empty when the site is valid.
    public func validate(_ site: Site) -> [ConfigurationIssue] {
        var check = Checker()
        var seen = SeenNames()
        let root = ConfigurationPath.root
        check.name(site.name, at: root / "site", what: "site name")
        check.that(site.version >= 0, root / "version", "\(site.version) is not a version (0 or more)")
        for (index, gateway) in site.gateways.enumerated() {
            Self.check(gateway, at: index, seen: &seen, check: &check)
        }
        for (index, device) in site.devices.enumerated() {
            Self.check(device, at: index, seen: &seen, check: &check)
        }
        for (index, vs) in site.virtualServers.enumerated() {
            Self.check(vs, at: index, in: site, seen: &seen, check: &check)
        }
        return check.issues
    }

    /// Gateway `index`: its name (unique), address, ports and weight.
    private static func check(_ gateway: Gateway, at index: Int, seen: inout SeenNames, check: inout Checker) {
        let path = ConfigurationPath.root / "gateways" / index
        check.name(gateway.name, at: path / "name", what: "gateway name")
        if let first = seen.gatewayNames[gateway.name] {
            check.fail(path / "name", "\(quoted(gateway.name)) is already the name of gateways[\(first)]")
        } else {
            seen.gatewayNames[gateway.name] = index
        }
        check.hostAddress(gateway.address, at: path / "address")
        for kind in PayloadKind.allCases {
            check.port(gateway.ports[kind], at: path / "ports" / kind.rawValue)
        }
        if let udp = gateway.ports.udp { check.port(udp, at: path / "ports" / "udp") }
        check.range(gateway.weight, 1...256, at: path / "weight", what: "weight")
    }

    /// Device `index`: its name (unique), address and interface.
    private static func check(_ device: Device, at index: Int, seen: inout SeenNames, check: inout Checker) {
        let path = ConfigurationPath.root / "devices" / index
        check.name(device.name, at: path / "name", what: "device name")
        if let first = seen.deviceNames[device.name] {
            check.fail(path / "name", "\(quoted(device.name)) is already the name of devices[\(first)]")
        } else {
            seen.deviceNames[device.name] = index
        }
        check.hostAddress(device.address, at: path / "address")
        check.interface(device.interface, at: path / "interface")
    }

    /// Virtual server `index`: its name (unique), VIP, devices, payloads and their gateways, failover, health check,
    /// timeouts and limits, and what it takes that no other may (VIP:port, VRRP router id on an interface).
    private static func check(
        _ vs: VirtualServer,
        at index: Int,
        in site: Site,
        seen: inout SeenNames,
        check: inout Checker
    ) {
        let path = ConfigurationPath.root / "virtualServers" / index
        check.name(vs.name, at: path / "name", what: "virtual server name")
        if let first = seen.virtualServerNames[vs.name] {
            check.fail(path / "name", "\(quoted(vs.name)) is already the name of virtualServers[\(first)]")
        } else {
            seen.virtualServerNames[vs.name] = index
        }
        if let publicAddress = vs.publicAddress {
            check.hostAddress(publicAddress, at: path / "publicAddress")
        }

        let ipv4 = AddressText.cidr(vs.vip.ipv4, family: 4)
        check.that(
            ipv4 != nil,
            path / "vip" / "ipv4",
            "\(quoted(vs.vip.ipv4)) is not an IPv4 address with prefix length (like 192.0.2.10/24)"
        )
        var ipv6: (address: String, prefix: Int)?
        if let text = vs.vip.ipv6 {
            ipv6 = AddressText.cidr(text, family: 6)
            check.that(
                ipv6 != nil,
                path / "vip" / "ipv6",
                "\(quoted(text)) is not an IPv6 address with prefix length (like 2001:db8::10/64)"
            )
        }
        if let interface = vs.vip.interface {
            check.interface(interface, at: path / "vip" / "interface")
        }

        let vrrpPath = path / "vrrp"
        if let routerID = vs.vrrp.routerID {
            check.range(routerID, 1...255, at: vrrpPath / "routerId", what: "VRRP router id")
        }
        let advert = vs.vrrp.advertInterval.milliseconds
        check.that(
            (10...40_950).contains(advert) && advert % 10 == 0,
            vrrpPath / "advertInterval",
            "\(vs.vrrp.advertInterval) is not a VRRP advert interval (10ms to 40950ms in steps of 10ms)"
        )
        check.duration(vs.vrrp.preemptDelay, 0...3_600_000, at: vrrpPath / "preemptDelay", what: "preempt delay")
        if vs.vrrp.unicast {
            if let ipv6 = vs.vip.ipv6 {
                check.fail(
                    vrrpPath / "unicast",
                    "unicast advertisements are IPv4 only, and the IPv6 VIP \(quoted(ipv6)) needs multicast: remove vip.ipv6 or unicast"
                )
            }
            // Unicast advertisements go to the other devices' addresses, so those must be IPv4 literals.
            for assignment in vs.devices {
                if let device = site.devices.first(where: { $0.name == assignment.name }),
                    !AddressText.isIPv4(device.address)
                {
                    check.fail(
                        vrrpPath / "unicast",
                        "device \(quoted(device.name)) has address \(quoted(device.address)), not an IPv4 address to send advertisements to"
                    )
                }
            }
        }
        if vs.vrrp.acceptFrom == .peers && !vs.vrrp.unicast && vs.devices.count >= 2 {
            // Advertisements are accepted from the devices' addresses only, so those must be IPv4 literals
            // (a host name or an IPv6 address never matches, and the devices would all become primary).
            for assignment in vs.devices {
                if let device = site.devices.first(where: { $0.name == assignment.name }),
                    !AddressText.isIPv4(device.address)
                {
                    check.fail(
                        vrrpPath / "acceptFrom",
                        "device \(quoted(device.name)) has address \(quoted(device.address)), not an IPv4 address to accept advertisements from: give the IPv4 address it advertises from, or set acceptFrom: any"
                    )
                }
            }
        }

        if vs.devices.isEmpty {
            check.fail(path / "devices", "the list is empty: name at least one device, preferred primary first")
        }
        var seenDevices: Set<String> = []
        for (position, assignment) in vs.devices.enumerated() {
            let devicePath = path / "devices" / position
            if seen.deviceNames[assignment.name] == nil {
                check.fail(
                    devicePath,
                    "\(quoted(assignment.name)) is not a device of this site (\(Self.list(site.devices.map(\.name))))"
                )
            }
            if !seenDevices.insert(assignment.name).inserted {
                check.fail(devicePath, "\(quoted(assignment.name)) is listed twice")
            }
            if let priority = assignment.priority {
                check.range(priority, 1...255, at: devicePath / "priority", what: "VRRP priority")
            }
        }

        Self.checkPayloads(
            of: vs,
            at: path,
            addresses: [ipv4?.address, ipv6?.address].compactMap { $0 },
            in: site,
            seen: &seen,
            check: &check
        )
        Self.checkSettings(of: vs, at: path, check: &check)

        let routerID = site.routerID(ofVirtualServerAt: index)
        if (1...255).contains(routerID) {
            for assignment in vs.devices {
                guard let device = site.device(named: assignment.name) else { continue }
                let interface = vs.vip.interface ?? device.interface
                let key = "\(device.name)/\(interface)/\(routerID)"
                if let other = seen.routerIDs[key] {
                    check.fail(
                        vrrpPath / "routerId",
                        "router id \(routerID) on \(device.name)'s interface \(interface) is already used by \(site.virtualServers[other].name)"
                    )
                    break
                }
                seen.routerIDs[key] = index
            }
        }
    }

    /// A virtual server's payloads (`gateway`, `ssl`, `clientManagement`) and its `udp` payload: ports, gateways,
    /// TLS, SNI routes, and the VIP addresses and ports they take.
    private static func checkPayloads(
        of vs: VirtualServer,
        at path: ConfigurationPath,
        addresses: [String],
        in site: Site,
        seen: inout SeenNames,
        check: inout Checker
    ) {
        let payloadsPath = path / "payloads"
        if vs.enabled && !vs.payloads.contains(where: \.enabled) && vs.udp?.enabled != true {
            check.fail(
                payloadsPath,
                "no payload is enabled: enable at least one of gateway, ssl, clientManagement, udp"
            )
        }
        var ports: [Int: PayloadKind] = [:]
        for payload in vs.payloads {
            let payloadPath = payloadsPath / payload.kind.rawValue
            check.port(payload.port, at: payloadPath / "port")
            if let other = ports[payload.port] {
                check.fail(payloadPath / "port", "\(payload.port) is already the port of the \(other) payload")
            } else {
                ports[payload.port] = payload.kind
            }
            Self.checkGateways(payload.gateways, at: payloadPath / "gateways", in: site, seen: seen, check: &check)
            if payload.gateways.isEmpty && site.gateways.isEmpty {
                check.fail(payloadPath / "gateways", "no gateways: the site has none and the payload names none")
            }
            if payload.kind == .ssl && payload.sslMode == .offload {
                if let managed = payload.managedCertificate {
                    check.name(managed, at: payloadPath / "managedCertificate", what: "certificate name")
                    for (field, value) in [
                        ("certificate", payload.certificate), ("privateKey", payload.privateKey),
                    ] where value != nil {
                        check.fail(
                            payloadPath / field,
                            "give either managedCertificate (uploaded to the console) or certificate and privateKey (files), not both"
                        )
                    }
                } else {
                    for (field, value, what) in [
                        ("certificate", payload.certificate, "certificate chain"),
                        ("privateKey", payload.privateKey, "private key"),
                    ] {
                        if let value {
                            check.that(
                                value.hasPrefix("/"),
                                payloadPath / field,
                                "\(quoted(value)) is not an absolute path (of the PEM file of the \(what))"
                            )
                        } else {
                            check.fail(
                                payloadPath / field,
                                "missing: mode offload needs the PEM file of the \(what) (an absolute path), or a managedCertificate"
                            )
                        }
                    }
                }
                var protocols: Set<String> = []
                for (position, name) in payload.alpn.enumerated() {
                    check.that(
                        (1...255).contains(name.utf8.count)
                            && name.allSatisfy { $0.isASCII && !$0.isWhitespace && $0 != "," },
                        payloadPath / "alpn" / position,
                        "\(quoted(name)) is not an application protocol name (such as http/1.1 or h2: 1-255 ASCII characters, no spaces or commas)"
                    )
                    check.that(
                        protocols.insert(name).inserted,
                        payloadPath / "alpn" / position,
                        "\(quoted(name)) is listed twice"
                    )
                }
                if !payload.sni.isEmpty {
                    check.fail(payloadPath / "sni", "SNI routing is for mode passthrough")
                }
                if let bundle = payload.gatewayTLS?.caBundle {
                    check.that(
                        bundle.hasPrefix("/"),
                        payloadPath / "gatewayTLS" / "caBundle",
                        "\(quoted(bundle)) is not an absolute path (of a PEM file of CA certificates)"
                    )
                }
                if case .list(let suites) = payload.ciphers {
                    check.that(
                        !suites.isEmpty,
                        payloadPath / "ciphers",
                        "the list is empty: give cipher suites, or modern or intermediate"
                    )
                    for (position, suite) in suites.enumerated() {
                        check.that(
                            CipherPolicy.knownSuites.contains(suite),
                            payloadPath / "ciphers" / position,
                            "\(quoted(suite)) is not a TLS 1.2 cipher suite (known: \(CipherPolicy.knownSuites.joined(separator: ", ")))"
                        )
                    }
                }
            } else if payload.kind == .ssl {
                if payload.gatewayTLS != nil {
                    check.fail(
                        payloadPath / "gatewayTLS",
                        "only mode offload re-encrypts toward the gateways (in passthrough the client's TLS reaches them)"
                    )
                }
                for (field, value) in [
                    ("certificate", payload.certificate), ("privateKey", payload.privateKey),
                    ("managedCertificate", payload.managedCertificate),
                ] where value != nil {
                    check.fail(
                        payloadPath / field,
                        "only mode offload uses a \(field == "privateKey" ? "private key" : "certificate") (the mode is passthrough)"
                    )
                }
                if !payload.alpn.isEmpty {
                    check.fail(
                        payloadPath / "alpn",
                        "only mode offload offers ALPN (in passthrough the client's ALPN reaches the gateway untouched)"
                    )
                }
            }
            var serverNames: [String: String] = [:]
            for route in payload.sni {
                let routePath = payloadPath / "sni" / route.serverName
                check.that(
                    Checker.isServerName(route.serverName),
                    routePath,
                    "\(quoted(route.serverName)) is not a server name (a host name such as desktop.example.com, or *.example.com)"
                )
                if let other = serverNames[route.serverName.lowercased()] {
                    check.fail(routePath, "\(quoted(route.serverName)) is already routed (as \(quoted(other)))")
                } else {
                    serverNames[route.serverName.lowercased()] = route.serverName
                }
                if route.gateways.isEmpty {
                    check.fail(routePath, "no gateways: list the gateways for this server name")
                }
                Self.checkGateways(route.gateways, at: routePath, in: site, seen: seen, check: &check)
            }
            if vs.enabled && payload.enabled {
                for address in addresses {
                    let key = address.contains(":") ? "[\(address)]:\(payload.port)" : "\(address):\(payload.port)"
                    if let owner = seen.listeners[key] {
                        check.fail(payloadPath / "port", "\(key) is already served by \(owner)")
                    } else {
                        seen.listeners[key] = "\(vs.name).\(payload.kind)"
                    }
                }
            }
        }

        if let udp = vs.udp {
            let udpPath = payloadsPath / "udp"
            if udp.ports.isEmpty {
                check.fail(udpPath / "ports", "the list is empty: give the UDP ports to listen on")
            }
            var seenPorts: Set<Int> = []
            for (position, port) in udp.ports.enumerated() {
                check.port(port, at: udpPath / "ports" / position)
                if !seenPorts.insert(port).inserted {
                    check.fail(udpPath / "ports" / position, "\(port) is listed twice")
                }
                if vs.enabled && udp.enabled {
                    for address in addresses {
                        let key = "udp " + (address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)")
                        if let owner = seen.listeners[key] {
                            check.fail(udpPath / "ports" / position, "\(key) is already served by \(owner)")
                        } else {
                            seen.listeners[key] = "\(vs.name).udp"
                        }
                    }
                }
            }
            Self.checkGateways(udp.gateways, at: udpPath / "gateways", in: site, seen: seen, check: &check)
            if udp.gateways.isEmpty && site.gateways.isEmpty {
                check.fail(udpPath / "gateways", "no gateways: the site has none and the payload names none")
            }
            check.duration(udp.idleTimeout, 1000...3_600_000, at: udpPath / "idleTimeout", what: "UDP idle timeout")
            check.range(udp.maxFlows, 1...10_000_000, at: udpPath / "maxFlows", what: "flow limit")
            if let health = udp.healthCheck {
                let checkPath = udpPath / "healthCheck"
                check.timing(of: health, at: checkPath)
                check.that(
                    health.type == .udp,
                    checkPath / "type",
                    "\(health.type.rawValue) is not udp (the udp payload's own check sends a datagram)"
                )
                check.that(
                    health.send.count <= 1024,
                    checkPath / "send",
                    "\(health.send.count) bytes is more than 1024"
                )
                check.that(
                    (health.expect?.count ?? 0) <= 1024,
                    checkPath / "expect",
                    "\(health.expect?.count ?? 0) bytes is more than 1024"
                )
            }
        }
    }

    /// A virtual server's health check, timeouts, persistence timeout and limits.
    private static func checkSettings(of vs: VirtualServer, at path: ConfigurationPath, check: inout Checker) {
        let checkPath = path / "healthCheck"
        let health = vs.healthCheck
        check.timing(of: health, at: checkPath)
        if health.type == .udp {
            check.fail(
                checkPath / "type",
                "udp checks belong to the udp payload (payloads.udp.healthCheck); a virtual server's check is tcp, http or tls"
            )
        }
        check.that(
            health.path.hasPrefix("/")
                && !health.path.contains(where: {
                    $0.isWhitespace || $0.asciiValue.map { $0 < 32 || $0 == 127 } ?? false
                }),
            checkPath / "path",
            "\(quoted(health.path)) is not an HTTP path (it starts with / and has no spaces)"
        )
        if let status = health.expectedStatus {
            check.range(status, 100...599, at: checkPath / "expectedStatus", what: "HTTP status")
        }

        let timeoutsPath = path / "timeouts"
        check.duration(vs.timeouts.connect, 1...3_600_000, at: timeoutsPath / "connect", what: "connect timeout")
        check.duration(
            vs.timeouts.clientIdle,
            1...604_800_000,
            at: timeoutsPath / "clientIdle",
            what: "idle timeout"
        )
        check.duration(
            vs.timeouts.gatewayIdle,
            1...604_800_000,
            at: timeoutsPath / "gatewayIdle",
            what: "idle timeout"
        )
        check.duration(
            vs.persistence.timeout,
            1000...604_800_000,
            at: path / "persistence" / "timeout",
            what: "persistence timeout"
        )
        check.duration(
            vs.timeouts.clientHello,
            10...60_000,
            at: timeoutsPath / "clientHello",
            what: "ClientHello timeout"
        )

        check.range(
            vs.limits.maxConnections,
            1...10_000_000,
            at: path / "limits" / "maxConnections",
            what: "connection limit"
        )
        check.range(
            vs.limits.maxConnectionsPerGateway,
            0...10_000_000,
            at: path / "limits" / "maxConnectionsPerGateway",
            what: "connection limit (0 = none)"
        )
    }

    /// A list of gateway names at `path` (a payload's, an SNI route's): each a gateway of the site, none twice.
    private static func checkGateways(
        _ names: [String],
        at path: ConfigurationPath,
        in site: Site,
        seen: SeenNames,
        check: inout Checker
    ) {
        var listed: Set<String> = []
        for (position, name) in names.enumerated() {
            if seen.gatewayNames[name] == nil {
                check.fail(
                    path / position,
                    "\(quoted(name)) is not a gateway of this site (\(Self.list(site.gateways.map(\.name))))"
                )
            }
            if !listed.insert(name).inserted {
                check.fail(path / position, "\(quoted(name)) is listed twice")
            }
        }
    }

    private static func list(_ names: [String]) -> String {
        var listed: Set<String> = []
        let unique = names.filter { listed.insert($0).inserted }
        return unique.isEmpty ? "there are none" : "known: " + unique.joined(separator: ", ")
    }
}

extension Site {
    /// The VRRP router id of the virtual server at `index`: its explicit `routerId`, else its 1-based position.
    public func routerID(ofVirtualServerAt index: Int) -> Int {
        self.virtualServers[index].vrrp.routerID ?? (index + 1)
    }
}

/// The names of the site's objects checked so far, and what virtual servers have taken: what each object's check
/// needs to know of the others.
private struct SeenNames {
    /// The index of each gateway, device and virtual server name, first one first.
    var gatewayNames: [String: Int] = [:]
    var deviceNames: [String: Int] = [:]
    var virtualServerNames: [String: Int] = [:]
    /// Which virtual server's payload listens on each address and port.
    var listeners: [String: String] = [:]
    /// Which virtual server holds each VRRP router id on a device's interface.
    var routerIDs: [String: Int] = [:]
}

private struct Checker {
    var issues: [ConfigurationIssue] = []

    mutating func fail(_ path: ConfigurationPath, _ message: String) {
        self.issues.append(ConfigurationIssue(path: path.description, message: message))
    }

    mutating func that(_ condition: Bool, _ path: ConfigurationPath, _ message: @autoclosure () -> String) {
        if !condition { self.fail(path, message()) }
    }

    mutating func range(_ value: Int, _ range: ClosedRange<Int>, at path: ConfigurationPath, what: String) {
        self.that(
            range.contains(value),
            path,
            "\(value) is not \(Self.article(what)) \(what) (\(range.lowerBound)-\(range.upperBound))"
        )
    }

    /// The interval, timeout, rise and fall of a health check.
    mutating func timing(of health: HealthCheck, at checkPath: ConfigurationPath) {
        self.duration(health.interval, 100...3_600_000, at: checkPath / "interval", what: "check interval")
        self.duration(health.timeout, 10...3_600_000, at: checkPath / "timeout", what: "check timeout")
        if health.timeout > health.interval {
            self.fail(checkPath / "timeout", "\(health.timeout) is longer than the interval \(health.interval)")
        }
        self.range(health.rise, 1...100, at: checkPath / "rise", what: "rise count")
        self.range(health.fall, 1...100, at: checkPath / "fall", what: "fall count")
    }

    mutating func port(_ value: Int, at path: ConfigurationPath) {
        self.that((1...65535).contains(value), path, "\(value) is not a port (1-65535)")
    }

    mutating func duration(_ value: HALBDuration, _ range: ClosedRange<Int64>, at path: ConfigurationPath, what: String)
    {
        self.that(
            range.contains(value.milliseconds),
            path,
            "\(value) is not \(Self.article(what)) \(what) (\(HALBDuration(milliseconds: range.lowerBound)) to \(HALBDuration(milliseconds: range.upperBound)))"
        )
    }

    /// A DNS host name (letters, digits and hyphens in labels of 1-63, 253 at most), optionally `*.` and a domain.
    static func isServerName(_ name: String) -> Bool {
        var labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.first == "*" { labels.removeFirst() }
        guard !labels.isEmpty, name.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    private static func article(_ noun: String) -> String {
        noun.hasPrefix("HTTP") || "aeiou".contains(noun.first ?? "x") ? "an" : "a"
    }

    mutating func name(_ value: String, at path: ConfigurationPath, what: String) {
        let valid =
            (1...63).contains(value.utf8.count)
            && value.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        self.that(
            valid,
            path,
            "\(quoted(value)) is not a \(what) (1-63 letters, digits, - _ . starting with a letter or digit)"
        )
    }

    mutating func hostAddress(_ value: String, at path: ConfigurationPath) {
        self.that(
            AddressText.isIPv4(value) || AddressText.isIPv6(value) || AddressText.isHostName(value),
            path,
            "\(quoted(value)) is not an IP address or host name"
        )
    }

    mutating func interface(_ value: String, at path: ConfigurationPath) {
        self.that(
            AddressText.isInterfaceName(value),
            path,
            "\(quoted(value)) is not an interface name (1-15 characters, no /, : or spaces)"
        )
    }
}

extension Site {
    /// The VRRP priority of `device` in the virtual server at `index`: its explicit `priority`, or by its position
    /// in the list: the first 200, each next one 10 lower, down to 10.
    ///
    /// - Returns: `nil` when the virtual server does not list the device.
    public func vrrpPriority(of device: String, inVirtualServerAt index: Int) -> Int? {
        let devices = self.virtualServers[index].devices
        guard let position = devices.firstIndex(where: { $0.name == device }) else { return nil }
        return devices[position].priority ?? max(10, 200 - 10 * position)
    }
}
