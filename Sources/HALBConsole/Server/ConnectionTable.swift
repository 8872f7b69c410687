/// Which of the console's connections may stay: a pure state machine that ``ConnectionGuardHandler`` feeds with
/// connections opening, requests starting, responses ending and connections closing, and that answers with the
/// connections to close.
///
/// Slow or idle clients cannot take the console's descriptors and keep `/healthz` and the devices unanswered:
/// - a connection must deliver a request's head within ``Limits/headTimeout`` of opening (TLS handshake included)
///   or of its previous response; one that has not is closed;
/// - one client address holds at most ``Limits/perAddress`` connections; a further one is closed at once;
/// - in all at most ``Limits/total``; when a new connection would pass it, the oldest connection that is waiting
///   for its request head (slow, idle, or a slowloris) is closed to make room. Connections busy with a request (a
///   device's 30 s long poll, say) are never closed for room; only when every connection is busy is the new one
///   refused.
public struct ConnectionTable<ID: Hashable & Sendable>: Sendable {
    /// The bounds.
    public struct Limits: Sendable, Hashable {
        /// The most connections at once.
        public var total: Int
        /// The most connections of one client address.
        public var perAddress: Int
        /// How long a connection may take to deliver a request's head.
        public var headTimeout: Duration

        /// Creates limits.
        public init(total: Int, perAddress: Int, headTimeout: Duration) {
            self.total = total
            self.perAddress = perAddress
            self.headTimeout = headTimeout
        }
    }

    /// What becomes of a new connection.
    public enum Admission: Sendable, Hashable {
        /// It stays; close these others to make room (possibly none).
        case accept(closing: [ID])
        /// It is closed at once.
        case refuse(Reason)
    }

    /// Why a connection was refused.
    public enum Reason: String, Sendable, Hashable {
        case perAddress = "too many connections from one address"
        case full = "every connection is busy"
    }

    private struct Entry: Sendable {
        var address: String
        /// When the connection started waiting for a request head; `nil` while a request is served.
        var waitingSince: ContinuousClock.Instant?
        var opened: UInt64
    }

    public let limits: Limits
    private var entries: [ID: Entry] = [:]
    private var perAddress: [String: Int] = [:]
    private var counter: UInt64 = 0

    /// Creates an empty table.
    public init(limits: Limits) {
        self.limits = limits
    }

    /// The open connections.
    public var count: Int { self.entries.count }

    /// A connection from `address` opened at `now`.
    public mutating func opened(_ id: ID, address: String, now: ContinuousClock.Instant) -> Admission {
        if self.perAddress[address, default: 0] >= self.limits.perAddress { return .refuse(.perAddress) }
        var closing: [ID] = []
        if self.entries.count >= self.limits.total {
            // Make room by the oldest connection still waiting for its request head.
            let waiting = self.entries.filter { $0.value.waitingSince != nil }
            guard
                let oldest = waiting.min(by: {
                    ($0.value.waitingSince!, $0.value.opened) < ($1.value.waitingSince!, $1.value.opened)
                })
            else { return .refuse(.full) }
            closing.append(oldest.key)
            self.closed(oldest.key)
        }
        self.counter += 1
        self.entries[id] = Entry(address: address, waitingSince: now, opened: self.counter)
        self.perAddress[address, default: 0] += 1
        return .accept(closing: closing)
    }

    /// The connection delivered a request head: it is busy until its response ends.
    public mutating func requestStarted(_ id: ID) {
        self.entries[id]?.waitingSince = nil
    }

    /// The connection's response ended at `now`: it waits for its next request head.
    public mutating func responseEnded(_ id: ID, now: ContinuousClock.Instant) {
        self.entries[id]?.waitingSince = now
    }

    /// Whether the connection has waited longer than the head timeout at `now`.
    public func isOverdue(_ id: ID, now: ContinuousClock.Instant) -> Bool {
        guard let since = self.entries[id]?.waitingSince else { return false }
        return now - since >= self.limits.headTimeout
    }

    /// The connection closed (or was closed).
    public mutating func closed(_ id: ID) {
        guard let entry = self.entries.removeValue(forKey: id) else { return }
        let left = self.perAddress[entry.address, default: 1] - 1
        self.perAddress[entry.address] = left > 0 ? left : nil
    }
}
