/// The RDP-UDP payload of a virtual server: datagrams balanced per flow (client address and port), each flow
/// sticking to its gateway while it lives.
public struct UDPPayload: Sendable, Hashable {
    /// Whether devices serve it.
    public var enabled: Bool
    /// The UDP ports on the VIP.
    public var ports: [Int]
    /// The gateways, by name; empty means every gateway of the site.
    public var gateways: [String]
    /// How a new flow's gateway is picked (`leastconn` counts flows).
    public var balancing: BalancingAlgorithm
    /// A flow is forgotten after this long without a datagram in either direction.
    public var idleTimeout: HALBDuration
    /// The most flows one device keeps per port; datagrams of new flows beyond are dropped and counted.
    public var maxFlows: Int
    /// A check of the gateways' UDP port (type `udp`); `nil`: a gateway's health is that of its TCP port.
    public var healthCheck: HealthCheck?

    public init(
        enabled: Bool = true,
        ports: [Int] = [80, 443],
        gateways: [String] = [],
        balancing: BalancingAlgorithm = .leastconn,
        idleTimeout: HALBDuration = .minutes(2),
        maxFlows: Int = 100_000
    ) {
        self.enabled = enabled
        self.ports = ports
        self.gateways = gateways
        self.balancing = balancing
        self.idleTimeout = idleTimeout
        self.maxFlows = maxFlows
    }
}
