/// Connection limits of a virtual server.
public struct Limits: Sendable, Hashable {
    /// Concurrent client connections over all payloads of the virtual server; more are refused.
    public var maxConnections: Int
    /// Concurrent connections from one payload of this virtual server to one gateway; 0 means no limit.
    public var maxConnectionsPerGateway: Int

    /// Creates limits.
    public init(maxConnections: Int = 20_000, maxConnectionsPerGateway: Int = 0) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerGateway = maxConnectionsPerGateway
    }
}
