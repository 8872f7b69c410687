import Atomics
import HALBCore
import NIOCore
import Testing

@testable import HALBBalancer

@Suite struct BalancingAlgorithmTests {
    private func pool(
        _ algorithm: BalancingAlgorithm,
        weights: [Int],
        drain: Set<Int> = [],
        down: Set<Int> = [],
        limit: Int = 0
    ) -> GatewayPool {
        let members = weights.enumerated().map { index, weight in
            let target = GatewayTarget(
                key: .init(name: "gw\(index)", address: "192.0.2.\(index + 1)", port: 80, healthCheck: HealthCheck())
            )
            if down.contains(index) { target.setHealth(.down, reason: "test") }
            return GatewayPool.Member(
                configuration: MemberConfiguration(
                    name: "gw\(index)",
                    address: "192.0.2.\(index + 1)",
                    port: 80,
                    weight: weight,
                    drain: drain.contains(index)
                ),
                target: target,
                active: .init(0)
            )
        }
        return GatewayPool(members: members, algorithm: algorithm, perGatewayLimit: limit)
    }

    private func client(_ index: Int) -> SocketAddress {
        try! SocketAddress(ipAddress: "198.51.\(index / 256 % 256).\(index % 256)", port: 40000 + index % 1000)
    }

    @Test func roundRobinFollowsWeightsExactlyOverACycle() {
        let pool = self.pool(.roundrobin, weights: [5, 1, 2])
        var counts = [0, 0, 0]
        for _ in 0..<(8 * 100) { counts[pool.pick(client: nil)!] += 1 }
        #expect(counts == [500, 100, 200])
    }

    @Test func roundRobinInterleavesRatherThanBursts() {
        #expect(SmoothWeightedOrder.cycle(weights: [5, 1, 1]) == [0, 0, 1, 0, 2, 0, 0])
    }

    @Test func roundRobinSkipsDownAndDrainingGateways() {
        let pool = self.pool(.roundrobin, weights: [1, 1, 1, 1], drain: [1], down: [2])
        var counts = [0, 0, 0, 0]
        for _ in 0..<400 { counts[pool.pick(client: nil)!] += 1 }
        #expect(counts[1] == 0)
        #expect(counts[2] == 0)
        #expect(counts[0] + counts[3] == 400)
    }

    @Test func leastConnectionsPicksTheLeastBusyPerWeight() {
        let pool = self.pool(.leastconn, weights: [1, 1, 2])
        pool.members[0].target.active.store(3, ordering: .relaxed)
        pool.members[1].target.active.store(1, ordering: .relaxed)
        pool.members[2].target.active.store(3, ordering: .relaxed)  // 3/2 = 1.5 per weight
        #expect(pool.pick(client: nil) == 1)
        pool.members[1].target.active.store(2, ordering: .relaxed)  // 2 > 1.5
        #expect(pool.pick(client: nil) == 2)
    }

    @Test func leastConnectionsRotatesAmongEquallyLoadedGateways() {
        let pool = self.pool(.leastconn, weights: [1, 1, 1])
        let picks = (0..<6).map { _ in pool.pick(client: nil)! }
        #expect(Set(picks) == [0, 1, 2])
    }

    /// With one of three gateways down, sequential connections (each closed before the next, so every load is
    /// 0) share evenly between the other two, whichever gateway is down: the down gateway's turn does not go to
    /// its successor. Source hash spreads clients, not one client's connections, so it is tested with many clients.
    @Test(arguments: BalancingAlgorithm.allCases, [0, 1, 2])
    func theOthersShareEvenlyWhenOneOfThreeIsDown(algorithm: BalancingAlgorithm, down: Int) {
        let pool = self.pool(algorithm, weights: [1, 1, 1], down: [down])
        let picks = 3000
        var counts = [0, 0, 0]
        for index in 0..<picks {
            let member = pool.pick(client: self.client(index))!
            counts[member] += 1
            // The connection opens and closes before the next one.
            pool.members[member].reserve()
            pool.members[member].release()
        }
        #expect(counts[down] == 0)
        let shares = counts.indices.filter { $0 != down }.map { Double(counts[$0]) / Double(picks) }
        switch algorithm {
        case .roundrobin, .leastconn:
            // Exactly alternating.
            #expect(shares == [0.5, 0.5], "\(counts)")
        case .random, .sourcehash:
            // 3000 draws: a share beyond 0.45-0.55 is more than five standard deviations away for random; Maglev
            // spreads the down gateway's slots over the others within a few percent.
            #expect(shares.allSatisfy { abs($0 - 0.5) < 0.05 }, "\(counts)")
        }
    }

    @Test func weightedRoundRobinKeepsTheRatioOfTheOthersWhenOneIsDown() {
        // The cycle of weights 5, 1, 1 is 0 0 1 0 2 0 0: with gateway 1 down its turn goes to neither neighbour alone.
        let pool = self.pool(.roundrobin, weights: [5, 1, 1], down: [1])
        var counts = [0, 0, 0]
        for _ in 0..<600 { counts[pool.pick(client: nil)!] += 1 }
        #expect(counts == [500, 0, 100])
    }

    @Test func leastConnectionsStillPrefersTheLeastBusyAfterATie() {
        let pool = self.pool(.leastconn, weights: [1, 1, 1], down: [1])
        pool.members[2].target.active.store(1, ordering: .relaxed)
        for _ in 0..<5 { #expect(pool.pick(client: nil) == 0) }
    }

    @Test func perGatewayLimitExcludesFullGateways() {
        let pool = self.pool(.leastconn, weights: [1, 1], limit: 2)
        pool.members[0].active.store(2, ordering: .relaxed)
        for _ in 0..<10 { #expect(pool.pick(client: nil) == 1) }
        pool.members[1].active.store(2, ordering: .relaxed)
        #expect(pool.pick(client: nil) == nil)
    }

    @Test func excludedGatewaysAreNotRetried() {
        let pool = self.pool(.roundrobin, weights: [1, 1, 1])
        for _ in 0..<10 {
            let pick = pool.pick(client: nil, excluding: [0, 2])
            #expect(pick == 1)
        }
        #expect(pool.pick(client: nil, excluding: [0, 1, 2]) == nil)
    }

    @Test func randomTwoChoicesRespectsWeightsWithinFivePercent() {
        // With no load, the two-choice rule keeps the first pick on ties, so picks are uniform over gateways;
        // with load tracked as picks accumulate, weights steer the share.
        let pool = self.pool(.random, weights: [1, 3])
        var counts = [0, 0]
        for _ in 0..<20_000 {
            let index = pool.pick(client: nil)!
            counts[index] += 1
            pool.members[index].target.active.wrappingIncrement(ordering: .relaxed)
        }
        let share = Double(counts[1]) / 20_000
        #expect(abs(share - 0.75) < 0.05, "gw1 share \(share), expected 0.75")
    }

    @Test func randomNeverPicksADownGateway() {
        let pool = self.pool(.random, weights: [1, 1, 1], down: [1])
        for _ in 0..<1000 { #expect(pool.pick(client: nil) != 1) }
    }

    @Test func sourceHashSendsAClientToTheSameGatewayEveryTime() {
        let pool = self.pool(.sourcehash, weights: [1, 1, 1, 1])
        for index in 0..<200 {
            let first = pool.pick(client: self.client(index))
            for _ in 0..<3 { #expect(pool.pick(client: self.client(index)) == first) }
        }
    }

    @Test func sourceHashIgnoresTheClientPort() throws {
        let pool = self.pool(.sourcehash, weights: [1, 1, 1, 1, 1])
        let a = try SocketAddress(ipAddress: "203.0.113.7", port: 1111)
        let b = try SocketAddress(ipAddress: "203.0.113.7", port: 2222)
        #expect(pool.pick(client: a) == pool.pick(client: b))
    }

    @Test func sourceHashMovesOnlyTheClientsOfADownGateway() {
        let healthy = self.pool(.sourcehash, weights: [1, 1, 1, 1])
        let degraded = self.pool(.sourcehash, weights: [1, 1, 1, 1], down: [2])
        var moved = 0
        for index in 0..<5000 {
            let before = healthy.pick(client: self.client(index))!
            let after = degraded.pick(client: self.client(index))!
            #expect(after != 2)
            if before != 2 {
                #expect(after == before)
            } else {
                moved += 1
            }
        }
        #expect(moved > 0)
    }

    @Test func maglevTablesAreIdenticalOnTwoDevicesWhateverTheListOrder() {
        let a = MaglevTable(names: ["gw1", "gw2", "gw3", "gw4"], weights: [1, 1, 1, 1])
        let b = MaglevTable(names: ["gw3", "gw1", "gw4", "gw2"], weights: [1, 1, 1, 1])
        let namesA = ["gw1", "gw2", "gw3", "gw4"]
        let namesB = ["gw3", "gw1", "gw4", "gw2"]
        #expect(a.slots.count == MaglevTable.defaultSize)
        #expect(a.slots.map { namesA[Int($0)] } == b.slots.map { namesB[Int($0)] })
    }

    @Test func maglevSpreadsEvenlyAndFollowsWeights() {
        let table = MaglevTable(names: ["a", "b", "c", "d"], weights: [1, 1, 1, 2])
        var counts = [0, 0, 0, 0]
        for slot in table.slots { counts[Int(slot)] += 1 }
        let unit = Double(table.slots.count) / 5
        for index in 0..<3 { #expect(abs(Double(counts[index]) / unit - 1) < 0.05, "\(counts)") }
        #expect(abs(Double(counts[3]) / unit - 2) < 0.05, "\(counts)")
    }

    @Test(arguments: [3, 5, 10])
    func removingOneOfNGatewaysMovesAboutOneNthOfKeys(count: Int) {
        let names = (1...count).map { "gw\($0)" }
        let before = MaglevTable(names: names, weights: Array(repeating: 1, count: count))
        let remaining = Array(names.dropLast())
        let after = MaglevTable(names: remaining, weights: Array(repeating: 1, count: count - 1))
        var moved = 0
        var movedOthers = 0
        let keys = 20_000
        for key in 0..<keys {
            let hash = StableHash.hash(Array("client-\(key)".utf8))
            let old = names[before.lookup(hash)!]
            let new = remaining[after.lookup(hash)!]
            if old != new {
                moved += 1
                if old != names.last! { movedOthers += 1 }
            }
        }
        let fraction = Double(moved) / Double(keys)
        let expected = 1 / Double(count)
        #expect(abs(fraction - expected) < expected * 0.25 + 0.02, "moved \(fraction), expected about \(expected)")
        // Maglev allows a little extra disruption; nearly all moved keys belonged to the removed gateway.
        #expect(Double(movedOthers) / Double(keys) < 0.03, "moved \(movedOthers) keys of remaining gateways")
    }

    @Test func stableHashIsFixedAcrossProcessesAndBuilds() {
        // Golden values (computed independently from the FNV-1a + SplitMix64 definition): a change here would make
        // devices running different builds disagree on where a client goes.
        #expect(StableHash.hash(Array("gw1".utf8)) == 0x136d_763f_63cc_2898)
        #expect(StableHash.hash([192, 0, 2, 1]) == 0x7d72_555d_50da_3b6a)
    }
}

@Suite struct LogLimiterTests {
    @Test func letsOneLineThroughPerIntervalAndCountsTheRest() {
        let limiter = LogLimiter(interval: .seconds(1))
        let start = NIODeadline.uptimeNanoseconds(5_000_000_000)
        #expect(limiter.admit(now: start) == 0)
        #expect(limiter.admit(now: start + .milliseconds(10)) == nil)
        #expect(limiter.admit(now: start + .milliseconds(999)) == nil)
        #expect(limiter.admit(now: start + .seconds(1)) == 2)
        #expect(limiter.admit(now: start + .milliseconds(1500)) == nil)
        #expect(limiter.admit(now: start + .seconds(3)) == 1)
    }
}
