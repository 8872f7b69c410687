/// The lowest TLS version an offloading `ssl` payload accepts.
public enum TLSProtocolVersion: String, Sendable, Hashable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"
}
