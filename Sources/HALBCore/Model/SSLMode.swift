/// How the `ssl` payload treats TLS.
public enum SSLMode: String, Sendable, Hashable, CaseIterable {
    /// Relay TLS bytes untouched to the gateway, which terminates TLS.
    case passthrough
    /// Terminate TLS on the device, with the payload's certificate and key; the gateways get plain TCP.
    case offload
}
