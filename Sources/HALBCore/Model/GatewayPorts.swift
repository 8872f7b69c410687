/// The port a gateway serves each payload on.
public struct GatewayPorts: Sendable, Hashable {
    /// Plain TCP port of the `gateway` payload (default 80).
    public var gateway: Int
    /// TLS port of the `ssl` payload (default 443).
    public var ssl: Int
    /// Port of the `clientManagement` payload (default 20009).
    public var clientManagement: Int
    /// UDP port of the `udp` payload; `nil`: the same port the datagram reached the VIP on.
    public var udp: Int?

    /// Creates a port set; omitted ports take the payload defaults.
    public init(
        gateway: Int = PayloadKind.gateway.defaultPort,
        ssl: Int = PayloadKind.ssl.defaultPort,
        clientManagement: Int = PayloadKind.clientManagement.defaultPort
    ) {
        self.gateway = gateway
        self.ssl = ssl
        self.clientManagement = clientManagement
    }

    /// The gateway's port for `kind`.
    public subscript(kind: PayloadKind) -> Int {
        get {
            switch kind {
            case .gateway: self.gateway
            case .ssl: self.ssl
            case .clientManagement: self.clientManagement
            }
        }
        set {
            switch kind {
            case .gateway: self.gateway = newValue
            case .ssl: self.ssl = newValue
            case .clientManagement: self.clientManagement = newValue
            }
        }
    }
}
