import HALBCore

/// The check of each setting, used by every source and by the wizard as each answer comes. Each names the field and
/// the value it refuses.
public enum ApplianceValidation {
    /// The most DNS servers: what the C library reads from resolv.conf (MAXNS).
    public static let maximumDNSServers = 3
    /// The longest join token.
    public static let maximumJoinTokenLength = 512

    /// `text` without leading and trailing whitespace and newlines.
    static func trimmed(_ text: String) -> String {
        var scalars = Substring(text).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }

    /// `text` quoted for a message, control characters escaped.
    static func show(_ text: String) -> String { DisplayText.quoted(text) }

    /// A list field's items: comma separated, each trimmed.
    static func items(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map { Self.trimmed(String($0)) }
    }

    // MARK: - Names

    /// Whether `label` is an RFC 1123 label: 1-63 letters, digits and hyphens, not starting or ending with a hyphen.
    static func isLabel<S: StringProtocol>(_ label: S) -> Bool {
        guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
        return label.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-")
        }
    }

    /// The host name: one or more RFC 1123 labels, 253 characters at most, not an IP address.
    ///
    /// - Throws: ``ApplianceError`` when it is missing or not a host name.
    public static func hostname(_ text: String?) throws(ApplianceError) -> String {
        guard let text else { throw .invalid(.hostname, "is required (the appliance's host name, like lb1)") }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        let valid =
            text.utf8.count <= 253 && labels.allSatisfy { Self.isLabel($0) }
            && !(labels.last?.allSatisfy(\.isNumber) ?? true)
        guard valid else {
            throw .invalid(
                .hostname,
                "\(Self.show(text)) is not a host name (RFC 1123: dot-separated labels of 1-63 letters, digits and hyphens, not starting or ending with a hyphen; 253 characters in all)"
            )
        }
        return text
    }

    /// The device's name when none is given: the host name's first label.
    public static func defaultName(hostname: String) -> String {
        String(hostname.split(separator: ".").first ?? Substring(hostname))
    }

    /// The device's name in the console: one RFC 1123 label; when not given, the host name's first label.
    ///
    /// - Returns: the name, or `nil` when none is given and `hostname` is unknown.
    /// - Throws: ``ApplianceError`` when it is not a label.
    public static func name(_ text: String?, hostname: String?) throws(ApplianceError) -> String? {
        guard let text else { return hostname.map { Self.defaultName(hostname: $0) } }
        guard Self.isLabel(text) else {
            throw .invalid(
                .name,
                "\(Self.show(text)) is not a device name (1-63 letters, digits and hyphens, not starting or ending with a hyphen)"
            )
        }
        return text
    }

    // MARK: - Network

    /// The address setting: `dhcp` (or nothing) for DHCP, else one or two comma-separated CIDRs, at most one IPv4
    /// (prefix 1-32) and one IPv6 (prefix 1-128), each a host's address.
    ///
    /// - Returns: the static addresses, IPv4 first; empty for DHCP.
    /// - Throws: ``ApplianceError`` naming each bad address.
    public static func addresses(_ text: String?) throws(ApplianceError) -> [InterfaceAddress] {
        guard let text, text.lowercased() != "dhcp" else { return [] }
        let items = Self.items(text)
        if items.contains(where: { $0.lowercased() == "dhcp" }) {
            throw .invalid(.address, "\(Self.show(text)): dhcp excludes static addresses")
        }
        var issues = IssueCollector()
        var addresses: [InterfaceAddress] = []
        for item in items {
            if let address = issues.collect({ () throws(ApplianceError) in try Self.cidr(item) }) {
                addresses.append(address)
            }
        }
        if !issues.issues.isEmpty { throw ApplianceError(issues: issues.issues) }
        let ipv4 = addresses.filter(\.address.isIPv4)
        let ipv6 = addresses.filter { !$0.address.isIPv4 }
        guard ipv4.count <= 1, ipv6.count <= 1 else {
            throw .invalid(.address, "\(Self.show(text)): give at most one IPv4 and one IPv6 address")
        }
        return ipv4 + ipv6
    }

    private static func cidr(_ item: String) throws(ApplianceError) -> InterfaceAddress {
        let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else {
            throw .invalid(.address, "\(Self.show(item)) is not an IPv4 or IPv6 address with a prefix length")
        }
        let family = address.familyName
        guard parts.count == 2 else {
            throw .invalid(
                .address,
                "\(Self.show(item)) has no prefix length (like \(address.isIPv4 ? "192.0.2.10/24" : "2001:db8::10/64"))"
            )
        }
        guard parts[1].allSatisfy(\.isASCII), let prefix = Int(parts[1]), (1...address.bitCount).contains(prefix)
        else {
            throw .invalid(
                .address,
                "\(Self.show(item)) is not an IPv4 or IPv6 address with a prefix length (an \(family) prefix is 1-\(address.bitCount))"
            )
        }
        if let reason = Self.notAHost(address) {
            throw .invalid(.address, "\(Self.show(item)) is \(reason), not a host's address")
        }
        if address.isIPv4, prefix <= 30 {
            if address.hostBitsAll(false, after: prefix) {
                throw .invalid(.address, "\(Self.show(item)) is the network's own address, not a host's")
            }
            if address.hostBitsAll(true, after: prefix) {
                throw .invalid(.address, "\(Self.show(item)) is the network's broadcast address, not a host's")
            }
        }
        return InterfaceAddress(address: address, prefix: prefix)
    }

    /// Why `address` cannot be a host's (or a gateway's), or `nil`.
    private static func notAHost(_ address: IPAddress) -> String? {
        if address.isUnspecified { return "an unspecified address" }
        if address.isLoopback { return "a loopback address" }
        if address.isMulticastOrReserved { return address.isIPv4 ? "a multicast or reserved address" : "multicast" }
        if address.isIPv4Mapped { return "an IPv4-mapped IPv6 address" }
        return nil
    }

    /// The gateway setting: comma-separated IP addresses, at most one per family, each in the network of the
    /// static address of its family (an IPv6 link-local gateway is always reachable).
    ///
    /// - Parameter addresses: the static addresses (empty for DHCP), or `nil` when they are invalid (then only the
    ///   gateways' syntax is checked).
    /// - Throws: ``ApplianceError`` naming each bad gateway.
    public static func gateways(
        _ text: String?,
        addresses: [InterfaceAddress]?
    ) throws(ApplianceError) -> [IPAddress] {
        guard let text, text.lowercased() != "none" else { return [] }
        if let addresses, addresses.isEmpty {
            throw .invalid(.gateway, "\(Self.show(text)) needs a static address (address is dhcp)")
        }
        var issues = IssueCollector()
        var gateways: [IPAddress] = []
        for item in Self.items(text) {
            let gateway = issues.collect { () throws(ApplianceError) -> IPAddress in
                guard let gateway = IPAddress(item) else {
                    throw .invalid(.gateway, "\(Self.show(item)) is not an IPv4 or IPv6 address")
                }
                if let reason = Self.notAHost(gateway) {
                    throw .invalid(.gateway, "\(Self.show(item)) is \(reason), not a gateway's address")
                }
                guard let addresses else { return gateway }
                guard let own = addresses.first(where: { $0.address.isIPv4 == gateway.isIPv4 }) else {
                    throw .invalid(
                        .gateway,
                        "\(Self.show(item)) is \(gateway.familyName), but address has no \(gateway.familyName) address"
                    )
                }
                if own.address == gateway {
                    throw .invalid(.gateway, "\(Self.show(item)) is the appliance's own address")
                }
                if !gateway.isLinkLocalIPv6, !own.contains(gateway) {
                    throw .invalid(.gateway, "\(Self.show(item)) is not in the network of address \(own)")
                }
                return gateway
            }
            if let gateway { gateways.append(gateway) }
        }
        if !issues.issues.isEmpty { throw ApplianceError(issues: issues.issues) }
        guard gateways.filter(\.isIPv4).count <= 1, gateways.filter({ !$0.isIPv4 }).count <= 1 else {
            throw .invalid(.gateway, "\(Self.show(text)): give at most one IPv4 and one IPv6 gateway")
        }
        return gateways.filter(\.isIPv4) + gateways.filter { !$0.isIPv4 }
    }

    /// The DNS setting: comma-separated IP addresses, at most ``maximumDNSServers``.
    ///
    /// - Throws: ``ApplianceError`` naming each bad server.
    public static func dns(_ text: String?) throws(ApplianceError) -> [IPAddress] {
        guard let text, text.lowercased() != "none" else { return [] }
        let items = Self.items(text)
        var issues = IssueCollector()
        var servers: [IPAddress] = []
        for item in items {
            let server = issues.collect { () throws(ApplianceError) -> IPAddress in
                guard let server = IPAddress(item) else {
                    throw .invalid(.dns, "\(Self.show(item)) is not an IPv4 or IPv6 address")
                }
                if server.isUnspecified || server.isMulticastOrReserved {
                    throw .invalid(.dns, "\(Self.show(item)) is not a DNS server's address")
                }
                return server
            }
            if let server { servers.append(server) }
        }
        if !issues.issues.isEmpty { throw ApplianceError(issues: issues.issues) }
        guard servers.count <= Self.maximumDNSServers else {
            throw .invalid(
                .dns,
                "\(Self.show(text)) lists \(servers.count) servers; at most \(Self.maximumDNSServers)"
            )
        }
        return servers
    }

    // MARK: - Console

    /// The console setting: `https://host[:port]` or `http://host[:port]`, with no path but `/`, no query, no user.
    ///
    /// - Throws: ``ApplianceError`` when it is missing or not such a URL.
    public static func console(_ text: String?) throws(ApplianceError) -> ConsoleURL {
        guard let text else {
            throw .invalid(.console, "is required (the console's URL, like https://console.example.net:8443)")
        }
        let shape = "(https://host[:port] or http://host[:port])"
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            throw .invalid(.console, "\(Self.show(text)) is not an https:// or http:// URL \(shape)")
        }
        let rest = text.dropFirst(scheme.count + 3)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = rest[slash...]
        guard path.isEmpty || path == "/" else {
            throw .invalid(.console, "\(Self.show(text)) has a path, query or fragment; give only \(shape)")
        }
        guard !authority.contains("@"), !authority.contains("?"), !authority.contains("#") else {
            throw .invalid(.console, "\(Self.show(text)) has a user, query or fragment; give only \(shape)")
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalid(.console, "\(Self.show(text)) has no closing ] after its IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw .invalid(.console, "\(Self.show(text)) is not a URL \(shape)")
                }
                portText = after.dropFirst()
            }
            guard let address = IPAddress(String(host)), !address.isIPv4 else {
                throw .invalid(.console, "\(Self.show(text)): [\(host)] is not an IPv6 address")
            }
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw .invalid(
                    .console,
                    "\(Self.show(text)): write an IPv6 host in brackets, like https://[2001:db8::1]:8443"
                )
            }
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
            let name = String(host).lowercased()
            guard AddressText.isIPv4(name) || AddressText.isHostName(name) else {
                throw .invalid(
                    .console,
                    "\(Self.show(text)): \(Self.show(String(host))) is not a host name or IPv4 address"
                )
            }
            host = Substring(name)
        }
        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.utf8.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                let number = Int(portText), (1...65535).contains(number)
            else {
                throw .invalid(.console, "\(Self.show(text)): \(Self.show(String(portText))) is not a port (1-65535)")
            }
            port = number
        }
        let hostText = IPAddress(String(host)).map(\.description) ?? String(host)
        return ConsoleURL(scheme: scheme, host: hostText, port: port)
    }

    /// A SHA-256 certificate fingerprint as operators copy it: 64 hex digits, in either case, with or without
    /// colons, optionally after openssl's `sha256 Fingerprint=`.
    ///
    /// - Returns: 64 lowercase hex digits.
    /// - Throws: ``ApplianceError`` (naming `field`) when it is not one.
    public static func fingerprint(_ text: String, field: String) throws(ApplianceError) -> String {
        var body = Substring(text)
        if let equals = body.lastIndex(of: "="), body.lowercased().hasPrefix("sha256 fingerprint=") {
            body = body[body.index(after: equals)...]
        }
        let hex = body.filter { $0 != ":" }.lowercased()
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else {
            throw .issue(
                field,
                "\(Self.show(text)) is not a SHA-256 fingerprint (64 hex digits, colons allowed, as openssl x509 -noout -fingerprint -sha256 prints it)"
            )
        }
        return hex
    }

    /// The console CA's fingerprint: required for an https:// console, refused for an http:// one.
    ///
    /// - Parameter console: the console, or `nil` when it is invalid (then only the fingerprint's form is checked).
    /// - Returns: 64 lowercase hex digits, or `nil` for an http:// console.
    /// - Throws: ``ApplianceError`` when it is missing, not a fingerprint, or given for an http:// console.
    public static func consoleCASHA256(_ text: String?, console: ConsoleURL?) throws(ApplianceError) -> String? {
        guard let text else {
            if console?.isHTTPS == true {
                throw .invalid(
                    .consoleCASHA256,
                    "is required for an https:// console (the SHA-256 fingerprint of its CA certificate; for a self-signed console, of its certificate)"
                )
            }
            return nil
        }
        if let console, !console.isHTTPS {
            throw .invalid(
                .consoleCASHA256,
                "\(Self.show(text)) is only for an https:// console, and console is \(Self.show(console.description))"
            )
        }
        return try Self.fingerprint(text, field: ApplianceField.consoleCASHA256.rawValue)
    }

    /// The join token: 1-512 printable ASCII characters, no spaces. Its value is a secret: messages never show it.
    ///
    /// - Throws: ``ApplianceError`` when it is missing or malformed.
    public static func joinToken(_ text: String?) throws(ApplianceError) -> String {
        guard let text else {
            throw .invalid(
                .joinToken,
                "is required (the one-time join token for this device: halb join-token create NAME)"
            )
        }
        if let bad = text.unicodeScalars.firstIndex(where: { !(0x21...0x7E).contains($0.value) }) {
            let position = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: bad) + 1
            throw .invalid(
                .joinToken,
                "character \(position) of the token (not shown) is a space, a control or not ASCII; a join token is 1-\(Self.maximumJoinTokenLength) printable ASCII characters"
            )
        }
        guard text.utf8.count <= Self.maximumJoinTokenLength else {
            throw .invalid(
                .joinToken,
                "the token (not shown) is \(text.utf8.count) characters; at most \(Self.maximumJoinTokenLength)"
            )
        }
        return text
    }

    /// Whether `value` can stand unquoted in a file systemd reads with `EnvironmentFile=`: no whitespace, quotes,
    /// `$`, backslash or control characters.
    public static func isPlainEnvironmentValue(_ value: String) -> Bool {
        value.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7F && !"\"'`$\\".unicodeScalars.contains(scalar)
                && !scalar.properties.isWhitespace && !(0x80..<0xA0).contains(scalar.value)
        }
    }
}
