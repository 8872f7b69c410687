/// Which code relays plain TCP connections.
public enum DataPath: String, Sendable, CaseIterable {
    /// HALB's own `epoll` relay with `splice(2)` (``RelayLoop``); TLS offload and SNI routing go to SwiftNIO.
    case native
    /// SwiftNIO channels for every connection.
    case nio
}
