/// The kind of active health check.
public enum HealthCheckType: String, Sendable, Hashable, CaseIterable {
    /// A TCP connect.
    case tcp
    /// An HTTP `GET` whose status is checked.
    case http
    /// A TLS handshake (certificate not verified).
    case tls
    /// A datagram to the gateway's UDP port, answered within the timeout (the `udp` payload's own check only).
    case udp
}
