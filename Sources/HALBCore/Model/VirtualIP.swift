/// A virtual IP: the address clients connect to, held by the primary device.
public struct VirtualIP: Sendable, Hashable {
    /// IPv4 address with prefix length, such as `192.0.2.10/24`.
    public var ipv4: String
    /// Optional IPv6 address with prefix length, such as `2001:db8::10/64`.
    public var ipv6: String?
    /// Interface override; when `nil` each device uses its own `interface`.
    public var interface: String?

    /// Creates a VIP.
    public init(ipv4: String, ipv6: String? = nil, interface: String? = nil) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.interface = interface
    }
}
