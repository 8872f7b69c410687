/// Whose VRRP advertisements a virtual router obeys.
public enum VRRPAcceptPolicy: String, Sendable, Hashable, CaseIterable {
    /// Only the virtual server's devices: an IPv4 advertisement must come from one of their `address`es. Any other
    /// sender is dropped before the election sees it, so a stray or hostile host cannot take the VIP.
    case peers
    /// Any host on the segment, as plain VRRP does (devices the site does not list, such as keepalived).
    case any
}
