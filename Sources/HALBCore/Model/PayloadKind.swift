/// The kinds of TCP payload a virtual server can carry.
public enum PayloadKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Plain TCP (the RAS "LB Gateway payload").
    case gateway
    /// TLS (the RAS "LB SSL payload").
    case ssl
    /// The RAS client-management port.
    case clientManagement

    /// The port the payload listens on when none is given.
    public var defaultPort: Int {
        switch self {
        case .gateway: 80
        case .ssl: 443
        case .clientManagement: 20009
        }
    }

    public var description: String { self.rawValue }
}
