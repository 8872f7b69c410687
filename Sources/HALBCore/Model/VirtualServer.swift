/// A virtual server: a VIP, its payloads and the devices that serve it.
public struct VirtualServer: Sendable, Hashable {
    /// Unique name within the site.
    public var name: String
    /// Whether devices serve it at all.
    public var enabled: Bool
    /// Free text for operators.
    public var description: String
    /// The FQDN or IP clients are told to use; informational.
    public var publicAddress: String?
    /// The virtual IP.
    public var vip: VirtualIP
    /// VRRP settings for failover between its devices.
    public var vrrp: VRRPSettings
    /// The devices serving it, in priority order (first is the preferred primary).
    public var devices: [DeviceAssignment]
    /// Its payloads, in the order `gateway`, `ssl`, `clientManagement`; absent ones are not served.
    public var payloads: [Payload]
    /// Active health checks of its gateways.
    public var healthCheck: HealthCheck
    /// Its timeouts.
    public var timeouts: Timeouts
    /// Its limits.
    public var limits: Limits
    /// PROXY protocol toward its gateways.
    public var proxyProtocol: ProxyProtocolVersion
    /// Whether a client sticks to one gateway.
    public var persistence: Persistence
    /// Its RDP-UDP payload, if any.
    public var udp: UDPPayload?

    /// Creates a virtual server.
    public init(
        name: String,
        enabled: Bool = true,
        description: String = "",
        publicAddress: String? = nil,
        vip: VirtualIP,
        vrrp: VRRPSettings = VRRPSettings(),
        devices: [DeviceAssignment],
        payloads: [Payload],
        healthCheck: HealthCheck = HealthCheck(),
        timeouts: Timeouts = Timeouts(),
        limits: Limits = Limits(),
        proxyProtocol: ProxyProtocolVersion = .off,
        persistence: Persistence = Persistence(),
        udp: UDPPayload? = nil
    ) {
        self.udp = udp
        self.name = name
        self.enabled = enabled
        self.description = description
        self.publicAddress = publicAddress
        self.vip = vip
        self.vrrp = vrrp
        self.devices = devices
        self.payloads = payloads
        self.healthCheck = healthCheck
        self.timeouts = timeouts
        self.limits = limits
        self.proxyProtocol = proxyProtocol
        self.persistence = persistence
    }

    /// The payload of `kind`, if configured.
    public func payload(_ kind: PayloadKind) -> Payload? { self.payloads.first { $0.kind == kind } }
}
