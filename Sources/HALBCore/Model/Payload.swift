/// One TCP payload of a virtual server.
public struct Payload: Sendable, Hashable {
    /// Which payload this is.
    public var kind: PayloadKind
    /// Whether the device serves it.
    public var enabled: Bool
    /// The port on the VIP.
    public var port: Int
    /// The gateways it spreads connections over, by name, in order. Empty means every gateway of the site.
    public var gateways: [String]
    /// The balancing algorithm.
    public var balancing: BalancingAlgorithm
    /// For `ssl` only: passthrough or offload.
    public var sslMode: SSLMode
    /// For a passthrough `ssl` payload: gateways by TLS server name; clients without a match go to `gateways`.
    public var sni: [SNIRoute]
    /// For an offloading `ssl` payload: the PEM file of the certificate chain, leaf first.
    public var certificate: String?
    /// For an offloading `ssl` payload: the PEM file of the private key.
    public var privateKey: String?
    /// For an offloading `ssl` payload of a managed device: the name of a certificate uploaded to the console
    /// (instead of `certificate` and `privateKey`). The device receives it with its configuration.
    public var managedCertificate: String?
    /// For an offloading `ssl` payload: the application protocols (ALPN) offered to clients, in order of
    /// preference, such as `http/1.1`; empty: no ALPN. The one a client picks is passed on to the gateways.
    public var alpn: [String]
    /// For an offloading `ssl` payload: the lowest TLS version accepted.
    public var minimumTLSVersion: TLSProtocolVersion
    /// For an offloading `ssl` payload: the TLS 1.2 cipher suites offered.
    public var ciphers: CipherPolicy
    /// For an offloading `ssl` payload: re-encrypt toward the gateways; `nil` sends them plain TCP.
    public var gatewayTLS: GatewayTLS?

    /// Creates a payload with the defaults of `kind`.
    public init(
        kind: PayloadKind,
        enabled: Bool = true,
        port: Int? = nil,
        gateways: [String] = [],
        balancing: BalancingAlgorithm = .leastconn,
        sslMode: SSLMode = .passthrough,
        sni: [SNIRoute] = [],
        certificate: String? = nil,
        privateKey: String? = nil,
        managedCertificate: String? = nil,
        alpn: [String] = [],
        minimumTLSVersion: TLSProtocolVersion = .v1_2,
        ciphers: CipherPolicy = .modern,
        gatewayTLS: GatewayTLS? = nil
    ) {
        self.gatewayTLS = gatewayTLS
        self.sni = sni
        self.certificate = certificate
        self.privateKey = privateKey
        self.managedCertificate = managedCertificate
        self.alpn = alpn
        self.minimumTLSVersion = minimumTLSVersion
        self.ciphers = ciphers
        self.kind = kind
        self.enabled = enabled
        self.port = port ?? kind.defaultPort
        self.gateways = gateways
        self.balancing = balancing
        self.sslMode = sslMode
    }
}
