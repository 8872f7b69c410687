import Atomics
import HALBCore
import NIOCore

/// The gateways of one route and the algorithm that picks among them.
///
/// Immutable but for atomic counters, so every event loop picks without locks. A new pool is built on each reload;
/// connections keep the pool they started with.
final class GatewayPool: Sendable {
    struct Member: Sendable {
        let configuration: MemberConfiguration
        let target: GatewayTarget
        /// Connections from this route to this gateway (for `maxConnectionsPerGateway`).
        let active: ManagedAtomic<Int>

        /// Counts a connection being made to this member, on the route and on the gateway.
        func reserve() {
            self.active.wrappingIncrement(ordering: .relaxed)
            self.target.reserve()
        }

        /// Ends a ``reserve()``.
        func release() {
            self.active.wrappingDecrement(ordering: .relaxed)
            self.target.release()
        }
    }

    let members: [Member]
    let algorithm: BalancingAlgorithm
    let perGatewayLimit: Int
    private let cycle: [Int]
    private let cursor = ManagedAtomic<Int>(0)
    private let maglev: MaglevTable?

    /// - Parameter persistent: clients stick to gateways (`persistence: sourceIP`): new clients are then placed by
    ///   the source hash, whatever `algorithm` says, so that every device places a client on the same gateway.
    init(members: [Member], algorithm: BalancingAlgorithm, perGatewayLimit: Int, persistent: Bool = false) {
        self.members = members
        self.algorithm = persistent ? .sourcehash : algorithm
        self.perGatewayLimit = perGatewayLimit
        let weights = members.map(\.configuration.weight)
        self.cycle = self.algorithm == .roundrobin ? SmoothWeightedOrder.cycle(weights: weights) : []
        self.maglev =
            self.algorithm == .sourcehash
            ? MaglevTable(names: members.map(\.configuration.name), weights: weights) : nil
    }

    /// The index of the member named `name`, if it is eligible for a new connection now.
    func eligibleMember(named name: String) -> Int? {
        self.members.firstIndex { $0.configuration.name == name }.flatMap { self.isEligible($0) ? $0 : nil }
    }

    /// Whether member `index` may take a new connection now.
    func isEligible(_ index: Int) -> Bool {
        let member = self.members[index]
        guard !member.configuration.drain, member.target.available.load(ordering: .relaxed) else { return false }
        return self.perGatewayLimit == 0 || member.active.load(ordering: .relaxed) < self.perGatewayLimit
    }

    /// Picks a member for a new connection. The caller reserves it (``Member/reserve()``) before connecting.
    ///
    /// - Parameters:
    ///   - client: the client's address (source hash uses its IP).
    ///   - excluding: members already tried for this connection.
    /// - Returns: the member's index, or `nil` when no member is eligible.
    func pick(client: SocketAddress?, excluding: [Int] = []) -> Int? {
        let count = self.members.count
        guard count > 0 else { return nil }
        func usable(_ index: Int) -> Bool { !excluding.contains(index) && self.isEligible(index) }
        switch self.algorithm {
        case .roundrobin:
            // The cursor moves past the member picked, not one step: a member that cannot take the connection
            // gives its turn to the next one in the cycle, which keeps its own turn too.
            let length = self.cycle.count
            return self.rotate { start in
                for step in 0..<length {
                    let index = self.cycle[Self.wrap(start &+ step, length)]
                    if usable(index) { return (index, start &+ step &+ 1) }
                }
                return nil
            }
        case .leastconn:
            // Fewest active connections per unit of weight. Ties go to the first in rotation from the cursor, which
            // then moves past the member picked: equal gateways take turns, whichever of them cannot serve.
            return self.rotate { start in
                var best: (index: Int, step: Int)?
                var bestLoad = 0
                var bestWeight = 1
                for step in 0..<count {
                    let index = Self.wrap(start &+ step, count)
                    guard usable(index) else { continue }
                    let load = self.members[index].target.active.load(ordering: .relaxed)
                    let weight = self.members[index].configuration.weight
                    if best == nil || load * bestWeight < bestLoad * weight {
                        best = (index, step)
                        bestLoad = load
                        bestWeight = weight
                    }
                }
                return best.map { ($0.index, start &+ $0.step &+ 1) }
            }
        case .random:
            let candidates = (0..<count).filter(usable)
            guard let first = candidates.randomElement() else { return nil }
            guard candidates.count > 1 else { return first }
            var second = first
            while second == first { second = candidates.randomElement()! }
            let a = self.members[first]
            let b = self.members[second]
            let loadA = a.target.active.load(ordering: .relaxed) * b.configuration.weight
            let loadB = b.target.active.load(ordering: .relaxed) * a.configuration.weight
            return loadA <= loadB ? first : second
        case .sourcehash:
            // Without a usable member the walk below would visit every slot.
            guard let maglev = self.maglev, !maglev.slots.isEmpty, (0..<count).contains(where: usable) else {
                return nil
            }
            let hash = Self.hash(client)
            // Walk on from the client's slot past unavailable gateways: their clients spread over the others while
            // every other client keeps its gateway.
            var slot = maglev.slot(for: hash)
            for _ in 0..<maglev.slots.count {
                let index = Int(maglev.slots[slot])
                if usable(index) { return index }
                slot = slot + 1 == maglev.slots.count ? 0 : slot + 1
            }
            return nil
        }
    }

    /// Runs `choose` from the cursor's position and moves the cursor where it says, unless another pick moved it
    /// meanwhile: then it chooses again from there (a few times at most; after that the choice stands and the cursor
    /// stays, so a pick never spins).
    ///
    /// - Parameter choose: from a cursor position, the member picked and the cursor's next position, or `nil`.
    private func rotate(_ choose: (Int) -> (index: Int, next: Int)?) -> Int? {
        var start = self.cursor.load(ordering: .relaxed)
        for _ in 0..<4 {
            guard let (index, next) = choose(start) else { return nil }
            let (exchanged, current) = self.cursor.compareExchange(expected: start, desired: next, ordering: .relaxed)
            if exchanged { return index }
            start = current
        }
        return choose(start)?.index
    }

    /// `position` modulo `length`, for a cursor that wraps around `Int`.
    private static func wrap(_ position: Int, _ length: Int) -> Int {
        Int(UInt(bitPattern: position) % UInt(length))
    }

    /// A stable hash of the client's IP address (not its port), the same on every device.
    static func hash(_ address: SocketAddress?) -> UInt64 {
        address?.ipBytes.map { StableHash.hash($0) } ?? 0
    }
}
