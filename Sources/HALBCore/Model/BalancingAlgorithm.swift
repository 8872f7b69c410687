/// The algorithm that picks a gateway for a new connection.
public enum BalancingAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// Weighted round robin (smooth: weights interleave rather than burst).
    case roundrobin
    /// The gateway with the fewest active connections relative to its weight (RAS's "least busy"); the default.
    case leastconn
    /// A Maglev consistent-hash table over the client's IP address.
    case sourcehash
    /// Power of two random choices: two random gateways, the less loaded wins.
    case random
}
