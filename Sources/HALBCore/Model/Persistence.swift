/// Client persistence of a virtual server (sticky sessions by client address).
public struct Persistence: Sendable, Hashable {
    /// Whether and how clients stick.
    public var type: PersistenceType
    /// How long a client keeps its gateway after its last connection started.
    public var timeout: HALBDuration

    /// Creates persistence settings (none by default; a client sticks for 30 minutes when on).
    public init(type: PersistenceType = .none, timeout: HALBDuration = .minutes(30)) {
        self.type = type
        self.timeout = timeout
    }
}
