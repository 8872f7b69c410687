/// How an offloading `ssl` payload re-encrypts toward its gateways.
public struct GatewayTLS: Sendable, Hashable {
    /// Whether the gateway's certificate must chain to `caBundle` (or the system's roots) and name its address.
    public var verify: Bool
    /// A PEM file of the CA certificates gateways are trusted by; `nil`: the system's trust store.
    public var caBundle: String?

    public init(verify: Bool = true, caBundle: String? = nil) {
        self.verify = verify
        self.caBundle = caBundle
    }
}
