/// A gateway: one backend server that accepts the connections a virtual server balances.
public struct Gateway: Sendable, Hashable {
    /// Default weight of a gateway.
    public static let defaultWeight = 1

    /// Unique name within the site.
    public var name: String
    /// IP address (v4 or v6) or DNS name.
    public var address: String
    /// The port the gateway listens on for each payload.
    public var ports: GatewayPorts
    /// Relative share of new connections under weighted algorithms (1–256).
    public var weight: Int
    /// A disabled gateway gets no connections and is not health checked.
    public var enabled: Bool
    /// A draining gateway gets no new connections; its established ones finish.
    public var drain: Bool

    /// Creates a gateway.
    public init(
        name: String,
        address: String,
        ports: GatewayPorts = GatewayPorts(),
        weight: Int = Gateway.defaultWeight,
        enabled: Bool = true,
        drain: Bool = false
    ) {
        self.name = name
        self.address = address
        self.ports = ports
        self.weight = weight
        self.enabled = enabled
        self.drain = drain
    }
}
