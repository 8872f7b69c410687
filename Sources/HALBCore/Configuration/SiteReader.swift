/// Reads a ``Site`` from a configuration tree, collecting every shape error (unknown field, wrong type, bad duration,
/// unknown enum value) with its path instead of stopping at the first.
///
/// Ranges and cross-references are the ``SiteValidator``'s job; the reader only turns text into typed values.
public struct SiteReader {
    private var issues: [ConfigurationIssue] = []

    /// Creates a reader.
    public init() {}

    /// Reads and validates a site from YAML text.
    ///
    /// - Parameter yaml: the document.
    /// - Returns: a valid site.
    /// - Throws: ``ConfigurationError`` with every issue, syntax, shape and semantic.
    public static func load(yaml: String) throws(ConfigurationError) -> Site {
        let node = try ConfigNode.parse(yaml: yaml)
        return try Self.load(node)
    }

    /// Reads and validates a site from a configuration tree.
    ///
    /// - Throws: ``ConfigurationError`` with every issue found.
    public static func load(_ node: ConfigNode) throws(ConfigurationError) -> Site {
        if node == .null {
            throw ConfigurationError(issues: [
                ConfigurationIssue(
                    path: "",
                    message:
                        "the file is empty: expected a site with `site`, `gateways`, `devices` and `virtualServers`"
                )
            ])
        }
        var reader = SiteReader()
        let site = reader.read(node)
        // Semantic checks run even after shape errors so that one run reports everything, but a field the reader
        // already complained about (and filled with a default) is not reported twice.
        let shapePaths = Set(reader.issues.map(\.path))
        let problems =
            shapePaths.contains("")
            ? []
            : SiteValidator().validate(site).filter { issue in
                !shapePaths.contains {
                    $0 == issue.path || issue.path.hasPrefix($0 + ".") || issue.path.hasPrefix($0 + "[")
                }
            }
        let issues = reader.issues + problems
        if !issues.isEmpty {
            throw ConfigurationError(issues: Self.capped(issues))
        }
        return site
    }

    /// The most issues one error lists: a broken list of thousands of items is reported by its first issues and a
    /// count of the rest, not thousands of lines.
    public static let maximumIssues = 100

    private static func capped(_ issues: [ConfigurationIssue]) -> [ConfigurationIssue] {
        guard issues.count > Self.maximumIssues else { return issues }
        let more = issues.count - Self.maximumIssues
        return Array(issues.prefix(Self.maximumIssues)) + [
            ConfigurationIssue(path: "", message: "and \(more) more issue\(more == 1 ? "" : "s"), not listed")
        ]
    }

    /// Reads one gateway as the console answers it (`GET /api/v1/sites/{site}/gateways/{name}`), without the
    /// checks that need the whole site.
    ///
    /// - Throws: ``ConfigurationError`` with every shape issue.
    public static func gateway(_ node: ConfigNode) throws(ConfigurationError) -> Gateway {
        try Self.item(node) { reader, node in reader.gateway(node, at: .root) }
    }

    /// Reads one device record, like ``gateway(_:)``.
    public static func device(_ node: ConfigNode) throws(ConfigurationError) -> Device {
        try Self.item(node) { reader, node in reader.device(node, at: .root) }
    }

    /// Reads one virtual server, like ``gateway(_:)``.
    public static func virtualServer(_ node: ConfigNode) throws(ConfigurationError) -> VirtualServer {
        try Self.item(node) { reader, node in reader.virtualServer(node, at: .root) }
    }

    private static func item<Item>(
        _ node: ConfigNode,
        _ read: (inout SiteReader, ConfigNode) -> Item?
    ) throws(ConfigurationError) -> Item {
        var reader = SiteReader()
        let item = read(&reader, node)
        guard let item, reader.issues.isEmpty else {
            throw ConfigurationError(
                issues: reader.issues.isEmpty ? [ConfigurationIssue(path: "", message: "not an item")] : reader.issues
            )
        }
        return item
    }

    /// Reads a site from a tree without semantic validation.
    ///
    /// - Returns: the site as written (defaults filled in), and the shape issues found.
    public mutating func read(_ node: ConfigNode) -> Site {
        let path = ConfigurationPath.root
        var site = Site(name: "")
        guard var fields = self.mapping(node, at: path) else { return site }
        site.name = self.string(fields.take("site"), at: path / "site", required: true) ?? ""
        site.version = self.int(fields.take("version"), at: path / "version") ?? 0
        site.gateways = self.list(fields.take("gateways"), at: path / "gateways") { reader, node, path in
            reader.gateway(node, at: path)
        }
        site.devices = self.list(fields.take("devices"), at: path / "devices") { reader, node, path in
            reader.device(node, at: path)
        }
        site.virtualServers = self.list(fields.take("virtualServers"), at: path / "virtualServers") {
            reader,
            node,
            path in
            reader.virtualServer(node, at: path)
        }
        self.reportUnknown(fields, at: path)
        return site
    }

    // MARK: - Site parts

    private mutating func gateway(_ node: ConfigNode, at path: ConfigurationPath) -> Gateway? {
        guard var fields = self.mapping(node, at: path) else { return nil }
        var gateway = Gateway(name: "", address: "")
        gateway.name = self.string(fields.take("name"), at: path / "name", required: true) ?? ""
        gateway.address = self.string(fields.take("address"), at: path / "address", required: true) ?? ""
        if let portsNode = fields.take("ports"), portsNode != .null,
            var ports = self.mapping(portsNode, at: path / "ports")
        {
            for kind in PayloadKind.allCases {
                if let port = self.int(ports.take(kind.rawValue), at: path / "ports" / kind.rawValue) {
                    gateway.ports[kind] = port
                }
            }
            gateway.ports.udp = self.int(ports.take("udp"), at: path / "ports" / "udp")
            self.reportUnknown(ports, at: path / "ports")
        }
        gateway.weight = self.int(fields.take("weight"), at: path / "weight") ?? Gateway.defaultWeight
        gateway.enabled = self.bool(fields.take("enabled"), at: path / "enabled") ?? true
        gateway.drain = self.bool(fields.take("drain"), at: path / "drain") ?? false
        self.reportUnknown(fields, at: path)
        return gateway
    }

    private mutating func device(_ node: ConfigNode, at path: ConfigurationPath) -> Device? {
        guard var fields = self.mapping(node, at: path) else { return nil }
        var device = Device(name: "", address: "")
        device.name = self.string(fields.take("name"), at: path / "name", required: true) ?? ""
        device.address = self.string(fields.take("address"), at: path / "address", required: true) ?? ""
        device.interface = self.string(fields.take("interface"), at: path / "interface") ?? Device.defaultInterface
        self.reportUnknown(fields, at: path)
        return device
    }

    private mutating func virtualServer(_ node: ConfigNode, at path: ConfigurationPath) -> VirtualServer? {
        guard var fields = self.mapping(node, at: path) else { return nil }
        var vs = VirtualServer(name: "", vip: VirtualIP(ipv4: ""), devices: [], payloads: [])
        vs.name = self.string(fields.take("name"), at: path / "name", required: true) ?? ""
        vs.enabled = self.bool(fields.take("enabled"), at: path / "enabled") ?? true
        vs.description = self.string(fields.take("description"), at: path / "description") ?? ""
        vs.publicAddress = self.string(fields.take("publicAddress"), at: path / "publicAddress")

        let vipPath = path / "vip"
        if let vipNode = fields.take("vip") {
            if var vip = self.mapping(vipNode, at: vipPath) {
                vs.vip.ipv4 = self.string(vip.take("ipv4"), at: vipPath / "ipv4", required: true) ?? ""
                vs.vip.ipv6 = self.string(vip.take("ipv6"), at: vipPath / "ipv6")
                vs.vip.interface = self.string(vip.take("interface"), at: vipPath / "interface")
                self.reportUnknown(vip, at: vipPath)
            }
        } else {
            self.report(vipPath, "missing: a virtual server needs a VIP (`vip: { ipv4: 192.0.2.10/24 }`)")
        }

        if let vrrpNode = fields.take("vrrp"), vrrpNode != .null, var vrrp = self.mapping(vrrpNode, at: path / "vrrp") {
            let vrrpPath = path / "vrrp"
            vs.vrrp.routerID = self.int(vrrp.take("routerId"), at: vrrpPath / "routerId")
            vs.vrrp.advertInterval =
                self.duration(vrrp.take("advertInterval"), at: vrrpPath / "advertInterval")
                ?? VRRPSettings.defaultAdvertInterval
            vs.vrrp.preempt = self.bool(vrrp.take("preempt"), at: vrrpPath / "preempt") ?? true
            vs.vrrp.preemptDelay =
                self.duration(vrrp.take("preemptDelay"), at: vrrpPath / "preemptDelay") ?? .seconds(0)
            vs.vrrp.unicast = self.bool(vrrp.take("unicast"), at: vrrpPath / "unicast") ?? false
            vs.vrrp.acceptFrom = self.enumeration(vrrp.take("acceptFrom"), at: vrrpPath / "acceptFrom") ?? .peers
            self.reportUnknown(vrrp, at: vrrpPath)
        }

        let devicesPath = path / "devices"
        if let devicesNode = fields.take("devices") {
            vs.devices = self.list(devicesNode, at: devicesPath) { reader, node, path in
                reader.deviceAssignment(node, at: path)
            }
        } else {
            self.report(
                devicesPath,
                "missing: list the devices that serve this virtual server, preferred primary first"
            )
        }

        let payloadsPath = path / "payloads"
        if let payloadsNode = fields.take("payloads") {
            if var payloads = self.mapping(payloadsNode, at: payloadsPath) {
                for kind in PayloadKind.allCases {
                    if let payloadNode = payloads.take(kind.rawValue),
                        let payload = self.payload(kind, payloadNode, at: payloadsPath / kind.rawValue)
                    {
                        vs.payloads.append(payload)
                    }
                }
                if let udpNode = payloads.take("udp") {
                    vs.udp = self.udpPayload(udpNode, at: payloadsPath / "udp")
                }
                self.reportUnknown(payloads, at: payloadsPath)
            }
        } else {
            self.report(
                payloadsPath,
                "missing: a virtual server needs at least one payload (gateway, ssl or clientManagement)"
            )
        }

        if let checkNode = fields.take("healthCheck"), checkNode != .null,
            var check = self.mapping(checkNode, at: path / "healthCheck")
        {
            let checkPath = path / "healthCheck"
            let defaults = HealthCheck()
            vs.healthCheck.type = self.enumeration(check.take("type"), at: checkPath / "type") ?? defaults.type
            vs.healthCheck.interval =
                self.duration(check.take("interval"), at: checkPath / "interval") ?? defaults.interval
            vs.healthCheck.timeout = self.duration(check.take("timeout"), at: checkPath / "timeout") ?? defaults.timeout
            vs.healthCheck.rise = self.int(check.take("rise"), at: checkPath / "rise") ?? defaults.rise
            vs.healthCheck.fall = self.int(check.take("fall"), at: checkPath / "fall") ?? defaults.fall
            vs.healthCheck.path = self.string(check.take("path"), at: checkPath / "path") ?? defaults.path
            vs.healthCheck.expectedStatus = self.int(check.take("expectedStatus"), at: checkPath / "expectedStatus")
            self.reportUnknown(check, at: checkPath)
        }

        if let timeoutsNode = fields.take("timeouts"), timeoutsNode != .null,
            var timeouts = self.mapping(timeoutsNode, at: path / "timeouts")
        {
            let timeoutsPath = path / "timeouts"
            let defaults = Timeouts()
            vs.timeouts.connect =
                self.duration(timeouts.take("connect"), at: timeoutsPath / "connect") ?? defaults.connect
            vs.timeouts.clientIdle =
                self.duration(timeouts.take("clientIdle"), at: timeoutsPath / "clientIdle") ?? defaults.clientIdle
            vs.timeouts.gatewayIdle =
                self.duration(timeouts.take("gatewayIdle"), at: timeoutsPath / "gatewayIdle") ?? defaults.gatewayIdle
            vs.timeouts.clientHello =
                self.duration(timeouts.take("clientHello"), at: timeoutsPath / "clientHello") ?? defaults.clientHello
            self.reportUnknown(timeouts, at: timeoutsPath)
        }

        if let limitsNode = fields.take("limits"), limitsNode != .null,
            var limits = self.mapping(limitsNode, at: path / "limits")
        {
            let limitsPath = path / "limits"
            let defaults = Limits()
            vs.limits.maxConnections =
                self.int(limits.take("maxConnections"), at: limitsPath / "maxConnections") ?? defaults.maxConnections
            vs.limits.maxConnectionsPerGateway =
                self.int(limits.take("maxConnectionsPerGateway"), at: limitsPath / "maxConnectionsPerGateway")
                ?? defaults.maxConnectionsPerGateway
            self.reportUnknown(limits, at: limitsPath)
        }

        vs.proxyProtocol = self.enumeration(fields.take("proxyProtocol"), at: path / "proxyProtocol") ?? .off

        if let persistenceNode = fields.take("persistence"), persistenceNode != .null,
            var persistence = self.mapping(persistenceNode, at: path / "persistence")
        {
            let persistencePath = path / "persistence"
            let defaults = Persistence()
            vs.persistence.type =
                self.enumeration(persistence.take("type"), at: persistencePath / "type") ?? defaults.type
            vs.persistence.timeout =
                self.duration(persistence.take("timeout"), at: persistencePath / "timeout") ?? defaults.timeout
            self.reportUnknown(persistence, at: persistencePath)
        }
        self.reportUnknown(fields, at: path)
        return vs
    }

    private mutating func deviceAssignment(_ node: ConfigNode, at path: ConfigurationPath) -> DeviceAssignment? {
        if case .scalar(let name, _) = node {
            return DeviceAssignment(name: name)
        }
        guard var fields = self.mapping(node, at: path, expecting: "a device name or { name, priority }") else {
            return nil
        }
        let name = self.string(fields.take("name"), at: path / "name", required: true) ?? ""
        let priority = self.int(fields.take("priority"), at: path / "priority")
        self.reportUnknown(fields, at: path)
        return DeviceAssignment(name: name, priority: priority)
    }

    private mutating func udpPayload(_ node: ConfigNode, at path: ConfigurationPath) -> UDPPayload? {
        var udp = UDPPayload()
        if node == .null { return udp }
        guard var fields = self.mapping(node, at: path) else { return nil }
        let defaults = UDPPayload()
        udp.enabled = self.bool(fields.take("enabled"), at: path / "enabled") ?? true
        if let ports = fields.take("ports") {
            udp.ports = self.list(ports, at: path / "ports") { reader, node, path in reader.int(node, at: path) }
        }
        if let gateways = fields.take("gateways") {
            udp.gateways = self.list(gateways, at: path / "gateways") { reader, node, path in
                reader.string(node, at: path, required: true)
            }
        }
        udp.balancing = self.enumeration(fields.take("balancing"), at: path / "balancing") ?? defaults.balancing
        udp.idleTimeout = self.duration(fields.take("idleTimeout"), at: path / "idleTimeout") ?? defaults.idleTimeout
        udp.maxFlows = self.int(fields.take("maxFlows"), at: path / "maxFlows") ?? defaults.maxFlows
        if let checkNode = fields.take("healthCheck"), checkNode != .null,
            var check = self.mapping(checkNode, at: path / "healthCheck")
        {
            let checkPath = path / "healthCheck"
            let checkDefaults = HealthCheck(type: .udp)
            var health = checkDefaults
            health.type = self.enumeration(check.take("type"), at: checkPath / "type") ?? .udp
            health.interval =
                self.duration(check.take("interval"), at: checkPath / "interval") ?? checkDefaults.interval
            health.timeout = self.duration(check.take("timeout"), at: checkPath / "timeout") ?? checkDefaults.timeout
            health.rise = self.int(check.take("rise"), at: checkPath / "rise") ?? checkDefaults.rise
            health.fall = self.int(check.take("fall"), at: checkPath / "fall") ?? checkDefaults.fall
            health.send =
                self.bytes(text: check.take("send"), hex: check.take("sendHex"), at: checkPath, field: "send") ?? []
            health.expect = self.bytes(
                text: check.take("expect"),
                hex: check.take("expectHex"),
                at: checkPath,
                field: "expect"
            )
            self.reportUnknown(check, at: checkPath)
            udp.healthCheck = health
        }
        self.reportUnknown(fields, at: path)
        return udp
    }

    /// Bytes given as text (`field`) or as hex digits (`field` + `Hex`), not both.
    private mutating func bytes(
        text: ConfigNode?,
        hex: ConfigNode?,
        at path: ConfigurationPath,
        field: String
    ) -> [UInt8]? {
        let text = self.string(text, at: path / field)
        let hexText = self.string(hex, at: path / (field + "Hex"))
        switch (text, hexText) {
        case (let text?, nil):
            return Array(text.utf8)
        case (nil, let hexText?):
            let digits = hexText.filter { !$0.isWhitespace }
            guard digits.count % 2 == 0, digits.allSatisfy(\.isHexDigit) else {
                self.report(
                    path / (field + "Hex"),
                    "\(quoted(String(hexText.prefix(80)))) is not hex bytes (pairs of 0-9 a-f)"
                )
                return nil
            }
            var bytes: [UInt8] = []
            var index = digits.startIndex
            while index < digits.endIndex {
                let next = digits.index(index, offsetBy: 2)
                bytes.append(UInt8(digits[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        case (_?, _?):
            self.report(path / (field + "Hex"), "give \(field) (text) or \(field)Hex (bytes), not both")
            return nil
        case (nil, nil):
            return nil
        }
    }

    private mutating func payload(_ kind: PayloadKind, _ node: ConfigNode, at path: ConfigurationPath) -> Payload? {
        var payload = Payload(kind: kind)
        if node == .null { return payload }
        guard var fields = self.mapping(node, at: path) else { return nil }
        payload.enabled = self.bool(fields.take("enabled"), at: path / "enabled") ?? true
        payload.port = self.int(fields.take("port"), at: path / "port") ?? kind.defaultPort
        if let gatewaysNode = fields.take("gateways") {
            payload.gateways = self.list(gatewaysNode, at: path / "gateways") { reader, node, path in
                reader.string(node, at: path, required: true)
            }
        }
        payload.balancing = self.enumeration(fields.take("balancing"), at: path / "balancing") ?? .leastconn
        if kind == .ssl {
            payload.sslMode = self.enumeration(fields.take("mode"), at: path / "mode") ?? .passthrough
            payload.certificate = self.string(fields.take("certificate"), at: path / "certificate")
            payload.privateKey = self.string(fields.take("privateKey"), at: path / "privateKey")
            payload.managedCertificate = self.string(fields.take("managedCertificate"), at: path / "managedCertificate")
            if let alpn = fields.take("alpn"), alpn != .null {
                payload.alpn = self.list(alpn, at: path / "alpn") { reader, node, path in
                    reader.string(node, at: path, required: true)
                }
            }
            payload.minimumTLSVersion =
                self.enumeration(fields.take("minimumTLSVersion"), at: path / "minimumTLSVersion") ?? .v1_2
            if let node = fields.take("gatewayTLS"), node != .null,
                var gatewayTLS = self.mapping(node, at: path / "gatewayTLS")
            {
                payload.gatewayTLS = GatewayTLS(
                    verify: self.bool(gatewayTLS.take("verify"), at: path / "gatewayTLS" / "verify") ?? true,
                    caBundle: self.string(gatewayTLS.take("caBundle"), at: path / "gatewayTLS" / "caBundle")
                )
                self.reportUnknown(gatewayTLS, at: path / "gatewayTLS")
            }
            if let ciphers = fields.take("ciphers"), ciphers != .null {
                if case .sequence = ciphers {
                    payload.ciphers = .list(
                        self.list(ciphers, at: path / "ciphers") { reader, node, path in
                            reader.string(node, at: path, required: true)
                        }
                    )
                } else {
                    switch self.string(ciphers, at: path / "ciphers")?.lowercased() {
                    case "modern": payload.ciphers = .modern
                    case "intermediate": payload.ciphers = .intermediate
                    case let other?:
                        self.report(
                            path / "ciphers",
                            "\(quoted(other)) is not modern, intermediate or a list of cipher suites"
                        )
                    case nil: break
                    }
                }
            }
            if let sniNode = fields.take("sni"), sniNode != .null,
                let sni = self.mapping(
                    sniNode,
                    at: path / "sni",
                    expecting: "a mapping of server names to gateway lists"
                )
            {
                for entry in sni.remaining {
                    let gateways = self.list(entry.value, at: path / "sni" / entry.key) { reader, node, path in
                        reader.string(node, at: path, required: true)
                    }
                    payload.sni.append(SNIRoute(serverName: entry.key, gateways: gateways))
                }
            }
        }
        self.reportUnknown(fields, at: path)
        return payload
    }

    // MARK: - Typed values

    private mutating func report(_ path: ConfigurationPath, _ message: String) {
        self.issues.append(ConfigurationIssue(path: path.description, message: message))
    }

    private mutating func mapping(
        _ node: ConfigNode,
        at path: ConfigurationPath,
        expecting: String = "a mapping of fields"
    ) -> Fields? {
        guard case .mapping(let entries) = node else {
            self.report(path, "\(Self.show(node)) is not \(expecting)")
            return nil
        }
        return Fields(entries: entries)
    }

    private mutating func list<Element>(
        _ node: ConfigNode?,
        at path: ConfigurationPath,
        element: (inout Self, ConfigNode, ConfigurationPath) -> Element?
    ) -> [Element] {
        guard let node, node != .null else { return [] }
        guard case .sequence(let items) = node else {
            self.report(path, "\(Self.show(node)) is not a list")
            return []
        }
        var result: [Element] = []
        for (index, item) in items.enumerated() {
            if let value = element(&self, item, path / index) {
                result.append(value)
            }
        }
        return result
    }

    private mutating func scalar(_ node: ConfigNode?, at path: ConfigurationPath, required: Bool) -> String? {
        switch node {
        case .none, .null?:
            if required { self.report(path, "missing: this field is required") }
            return nil
        case .scalar(let text, _)?:
            return text
        case let other?:
            self.report(path, "\(Self.show(other)) is not a single value")
            return nil
        }
    }

    private mutating func string(_ node: ConfigNode?, at path: ConfigurationPath, required: Bool = false) -> String? {
        self.scalar(node, at: path, required: required)
    }

    private mutating func int(_ node: ConfigNode?, at path: ConfigurationPath) -> Int? {
        guard let text = self.scalar(node, at: path, required: false) else { return nil }
        guard let value = Int(text.trimmingSpaces()) else {
            self.report(path, "\(quoted(text)) is not a whole number")
            return nil
        }
        return value
    }

    private mutating func bool(_ node: ConfigNode?, at path: ConfigurationPath) -> Bool? {
        guard let text = self.scalar(node, at: path, required: false) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            self.report(path, "\(quoted(text)) is not true or false")
            return nil
        }
    }

    private mutating func duration(_ node: ConfigNode?, at path: ConfigurationPath) -> HALBDuration? {
        guard let text = self.scalar(node, at: path, required: false) else { return nil }
        guard let duration = HALBDuration(parsing: text) else {
            self.report(path, "\(quoted(text)) is not a duration (write it like 250ms, 2s, 5m or 1h)")
            return nil
        }
        return duration
    }

    private mutating func enumeration<Value: RawRepresentable & CaseIterable>(
        _ node: ConfigNode?,
        at path: ConfigurationPath
    ) -> Value? where Value.RawValue == String {
        guard let text = self.scalar(node, at: path, required: false) else { return nil }
        guard
            let value = Value(rawValue: text)
                ?? Value.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() })
        else {
            let choices = Value.allCases.map(\.rawValue).joined(separator: ", ")
            self.report(path, "\(quoted(text)) is not one of \(choices)")
            return nil
        }
        return value
    }

    private mutating func reportUnknown(_ fields: Fields, at path: ConfigurationPath) {
        for entry in fields.remaining {
            self.report(path / entry.key, "unknown field \(quoted(entry.key))")
        }
    }

    private static func show(_ node: ConfigNode) -> String {
        switch node {
        case .null: "null"
        case .scalar(let text, _): quoted(text)
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// The fields of one mapping, taken one by one so that those left over can be reported as unknown.
private struct Fields {
    var entries: [ConfigEntry]

    mutating func take(_ key: String) -> ConfigNode? {
        guard let index = self.entries.firstIndex(where: { $0.key == key }) else { return nil }
        return self.entries.remove(at: index).value
    }

    var remaining: [ConfigEntry] { self.entries }
}
