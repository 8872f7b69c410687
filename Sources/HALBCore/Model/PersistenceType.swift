/// How a virtual server keeps a client on one gateway.
public enum PersistenceType: String, Sendable, Hashable, CaseIterable {
    /// Every connection is balanced on its own.
    case none
    /// Connections from one client IP address go to the same gateway, on every payload of the virtual server.
    case sourceIP
}
