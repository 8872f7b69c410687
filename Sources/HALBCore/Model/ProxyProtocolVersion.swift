/// Whether and how the device tells gateways the client's address with a PROXY protocol header.
public enum ProxyProtocolVersion: String, Sendable, Hashable, CaseIterable {
    /// No header.
    case off
    /// Human-readable PROXY protocol v1.
    case v1
    /// Binary PROXY protocol v2.
    case v2
}
