/// The appliance's settings, checked: what `halb appliance configure` writes.
public struct ApplianceSettings: Sendable, Hashable {
    /// The host name (one or more RFC 1123 labels).
    public var hostname: String
    /// The device's name in the console.
    public var name: String
    /// Static addresses: at most one IPv4 and one IPv6. Empty: the network is configured by DHCP.
    public var addresses: [InterfaceAddress]
    /// Default gateways of the static addresses: at most one per family.
    public var gateways: [IPAddress]
    /// DNS servers, at most 3.
    public var dns: [IPAddress]
    /// The console.
    public var console: ConsoleURL
    /// The SHA-256 fingerprint of the console's CA certificate, 64 lowercase hex digits; set for an https:// console.
    public var consoleCASHA256: String?
    /// The console's one-time join token.
    public var joinToken: String

    /// Whether the network is configured by DHCP.
    public var usesDHCP: Bool { self.addresses.isEmpty }

    /// Checks every field of `input` and builds the settings.
    ///
    /// - Throws: ``ApplianceError`` with every problem found, each naming its field and value.
    public init(validating input: ApplianceInput) throws(ApplianceError) {
        var issues = IssueCollector()
        let hostname = issues.collect { () throws(ApplianceError) in
            try ApplianceValidation.hostname(input[.hostname])
        }
        let name = issues.collect { () throws(ApplianceError) in
            try ApplianceValidation.name(input[.name], hostname: hostname)
        }
        let addresses = issues.collect { () throws(ApplianceError) in
            try ApplianceValidation.addresses(input[.address])
        }
        let gateways = issues.collect { () throws(ApplianceError) in
            try ApplianceValidation.gateways(input[.gateway], addresses: addresses)
        }
        let dns = issues.collect { () throws(ApplianceError) in try ApplianceValidation.dns(input[.dns]) }
        let console = issues.collect { () throws(ApplianceError) in
            try ApplianceValidation.console(input[.console])
        }
        let fingerprint = issues.collect { () throws(ApplianceError) in
            try ApplianceValidation.consoleCASHA256(input[.consoleCASHA256], console: console)
        }
        let token = issues.collect { () throws(ApplianceError) in
            try ApplianceValidation.joinToken(input[.joinToken])
        }
        guard issues.issues.isEmpty, let hostname, let name, let addresses, let gateways, let dns, let console,
            let fingerprint, let token
        else {
            throw ApplianceError(issues: issues.issues)
        }
        self.hostname = hostname
        self.name = name ?? ApplianceValidation.defaultName(hostname: hostname)
        self.addresses = addresses
        self.gateways = gateways
        self.dns = dns
        self.console = console
        self.consoleCASHA256 = fingerprint
        self.joinToken = token
        // device.conf is read by systemd's EnvironmentFile= unquoted: the checks above allow no value that would
        // need quotes, and this makes sure no later change lets one through.
        let environment: [(ApplianceField, String)] = [
            (.name, self.name), (.console, self.console.description), (.consoleCASHA256, self.consoleCASHA256 ?? ""),
        ]
        for (field, value) in environment where !ApplianceValidation.isPlainEnvironmentValue(value) {
            throw .invalid(
                field,
                "\(ApplianceValidation.show(value)) holds whitespace, a quote, $, a backslash or a control character"
            )
        }
    }
}
