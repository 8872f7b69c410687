/// Which gateway each client IP address was sent to, for `persistence: sourceIP`: a client keeps its gateway until
/// `timeout` after its last connection started.
///
/// A plain value driven with explicit times (milliseconds on any monotonic clock), so tests use a fake clock. The
/// table is bounded: when it is full, expired entries are dropped, and if none has expired the oldest go, a tenth of
/// the table at a time (those clients are then placed by the Maglev table again, which still sends them to the same
/// gateway while the set of gateways is unchanged).
public struct PersistenceTable: Sendable {
    private struct Entry: Sendable {
        var gateway: String
        var lastUsed: Int64
    }

    /// The most clients it remembers.
    public let capacity: Int
    private var entries: [[UInt8]: Entry] = [:]

    /// Creates an empty table.
    public init(capacity: Int = 200_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// How many clients it remembers now (expired entries included until they are dropped).
    public var count: Int { self.entries.count }

    /// The gateway of `client`, if it connected less than `timeout` ago; the entry is then refreshed.
    public mutating func gateway(of client: [UInt8], now: Int64, timeout: Int64) -> String? {
        guard let entry = self.entries[client] else { return nil }
        guard now - entry.lastUsed < timeout else {
            self.entries[client] = nil
            return nil
        }
        self.entries[client]!.lastUsed = now
        return entry.gateway
    }

    /// Remembers that `client` was sent to `gateway` at `now`.
    public mutating func record(_ client: [UInt8], gateway: String, now: Int64, timeout: Int64) {
        if self.entries[client] == nil, self.entries.count >= self.capacity {
            self.makeRoom(now: now, timeout: timeout)
        }
        self.entries[client] = Entry(gateway: gateway, lastUsed: now)
    }

    private mutating func makeRoom(now: Int64, timeout: Int64) {
        self.entries = self.entries.filter { now - $0.value.lastUsed < timeout }
        guard self.entries.count >= self.capacity else { return }
        let oldest = self.entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(max(1, self.capacity / 10))
        for (client, _) in oldest { self.entries[client] = nil }
    }
}
