/// The order in which weighted round robin visits gateways: smooth weighted round robin (as in nginx), expanded once
/// into a cycle so that picking is a single atomic increment.
///
/// Weights 5, 1, 1 give `a a b a c a a` rather than `a a a a a b c`.
public enum SmoothWeightedOrder {
    /// One full cycle of indices into `weights`; its length is the sum of the weights.
    public static func cycle(weights: [Int]) -> [Int] {
        let total = weights.reduce(0) { $0 + max(1, $1) }
        var current = [Int](repeating: 0, count: weights.count)
        var order: [Int] = []
        order.reserveCapacity(total)
        for _ in 0..<total {
            var best = 0
            for index in weights.indices {
                current[index] += max(1, weights[index])
                if current[index] > current[best] { best = index }
            }
            current[best] -= total
            order.append(best)
        }
        return order
    }
}
