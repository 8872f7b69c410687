/// A Maglev consistent-hash lookup table (Eisenbud et al., NSDI 2016).
///
/// Every device that builds the table from the same gateways gets the same table, so any of them sends a client to
/// the same gateway; removing one of N gateways moves about 1/N of the keys, nearly all of them the removed
/// gateway's own. Weights give a gateway proportionally more slots.
public struct MaglevTable: Sendable, Equatable {
    /// The table size: a prime well above 100 × the number of gateways for an even spread.
    public static let defaultSize = 65_537

    /// For each slot, the index into the `names` the table was built from.
    public let slots: [Int32]

    /// Builds the table.
    ///
    /// - Parameters:
    ///   - names: stable names of the gateways (their order does not matter: the table depends only on the names).
    ///   - weights: a weight per name (1 or more), same order as `names`.
    ///   - size: the number of slots, a prime.
    public init(names: [String], weights: [Int], size: Int = MaglevTable.defaultSize) {
        precondition(names.count == weights.count)
        guard !names.isEmpty else {
            self.slots = []
            return
        }
        // Fill in name order so that listing the gateways differently builds the same table.
        let order = names.indices.sorted { names[$0] < names[$1] }
        let m = UInt64(size)
        let offsets = order.map { StableHash.hash(Array(names[$0].utf8), seed: 0x6d61_676c) % m }
        let skips = order.map { StableHash.hash(Array(names[$0].utf8), seed: 0x6576_2121) % (m - 1) + 1 }
        var next = [UInt64](repeating: 0, count: order.count)
        var slots = [Int32](repeating: -1, count: size)
        var filled = 0
        let maxWeight = max(1, weights.max() ?? 1)
        var credit = [Int](repeating: 0, count: order.count)
        while filled < size {
            for (position, index) in order.enumerated() {
                // Weighted Maglev: a gateway takes a turn each round in proportion to its weight.
                credit[position] += max(1, weights[index])
                guard credit[position] >= maxWeight else { continue }
                credit[position] -= maxWeight
                var slot = (offsets[position] &+ next[position] &* skips[position]) % m
                while slots[Int(slot)] >= 0 {
                    next[position] += 1
                    slot = (offsets[position] &+ next[position] &* skips[position]) % m
                }
                slots[Int(slot)] = Int32(index)
                next[position] += 1
                filled += 1
                if filled == size { break }
            }
        }
        self.slots = slots
    }

    /// The gateway index for a key hash, or `nil` when the table is empty.
    public func lookup(_ hash: UInt64) -> Int? {
        guard !self.slots.isEmpty else { return nil }
        return Int(self.slots[Int(hash % UInt64(self.slots.count))])
    }

    /// The slot for a key hash; callers walk forward from it to skip unavailable gateways.
    func slot(for hash: UInt64) -> Int { Int(hash % UInt64(self.slots.count)) }
}
