import HALBDevice
import HALBFailover
import Testing

/// The device's failover decisions, driven by a fake clock (plain `Duration`s).
@Suite struct TrackingStateMachineTests {
    static func router(_ name: String, priority: UInt8 = 200) -> VirtualRouterConfiguration {
        VirtualRouterConfiguration(
            name: name,
            interface: "eth0",
            vrid: 1,
            priority: priority,
            advertInterval: 100,
            preempt: true,
            preemptDelay: .zero,
            addresses: [.init(address: VRRPAddress("192.0.2.100")!, prefix: 24)]
        )
    }

    typealias Health = TrackingStateMachine.Health
    static let unchecked = Health(servable: ["web": true], checksFinished: false)
    static let up = Health(servable: ["web": true], checksFinished: true)
    static let down = Health(servable: ["web": false], checksFinished: true)

    @Test func theRouterStartsWhenTheFirstChecksFinish() {
        let plan = [Self.router("web")]
        var machine = TrackingStateMachine(plan: plan)
        #expect(machine.begin(now: .seconds(10), health: Self.unchecked) == [.wake(at: .seconds(15))])
        #expect(machine.timerFired(now: .seconds(12)) == [])
        #expect(machine.healthChanged(Self.up, now: .seconds(13)) == [.start(plan, lowered: [])])
        #expect(machine.updated(running: plan, failed: false, now: .seconds(13)) == [.setPriority(200, of: "web")])
        // Nothing more until something changes.
        #expect(machine.healthChanged(Self.up, now: .seconds(14)) == [])
        #expect(machine.timerFired(now: .seconds(15)) == [])
    }

    @Test func withoutAnswersTheRouterStartsAtTheDeadlineWithTheVirtualServerLowered() {
        let plan = [Self.router("web")]
        var machine = TrackingStateMachine(plan: plan, startTimeout: .seconds(5))
        _ = machine.begin(now: .zero, health: Health(servable: [:], checksFinished: false))
        #expect(machine.timerFired(now: .seconds(4.9)) == [])
        #expect(machine.timerFired(now: .seconds(5)) == [.start(plan, lowered: ["web"])])
        #expect(machine.updated(running: plan, failed: false, now: .seconds(5)) == [.setPriority(1, of: "web")])
    }

    @Test func aVirtualServerThatCannotServeRunsAtPriorityOne() {
        let plan = [Self.router("web"), Self.router("rdp", priority: 150)]
        var machine = TrackingStateMachine(plan: plan)
        let both = Health(servable: ["web": true, "rdp": true], checksFinished: true)
        #expect(machine.begin(now: .zero, health: both) == [.start(plan, lowered: [])])
        #expect(
            machine.updated(running: plan, failed: false, now: .zero) == [
                .setPriority(200, of: "web"), .setPriority(150, of: "rdp"),
            ]
        )
        let webDown = Health(servable: ["web": false, "rdp": true], checksFinished: true)
        #expect(machine.healthChanged(webDown, now: .seconds(1)) == [.setPriority(1, of: "web")])
        #expect(machine.healthChanged(webDown, now: .seconds(2)) == [])
        #expect(machine.healthChanged(both, now: .seconds(3)) == [.setPriority(200, of: "web")])
    }

    @Test func aNewPlanGoesToTheRouterAtOnceAndARefusedOneIsRetriedTenSecondsLater() {
        let first = [Self.router("web")]
        var machine = TrackingStateMachine(plan: first)
        _ = machine.begin(now: .zero, health: Self.up)
        _ = machine.updated(running: first, failed: false, now: .zero)

        let second = [Self.router("web", priority: 150)]
        #expect(machine.planChanged(second, now: .seconds(1)) == [.update(second, lowered: [])])
        // The router refused it and still runs the first plan.
        #expect(
            machine.updated(running: first, failed: true, now: .seconds(1)) == [
                .setPriority(200, of: "web"), .wake(at: .seconds(11)),
            ]
        )
        // The same plan again (a reload of the same file) waits for the retry.
        #expect(machine.planChanged(second, now: .seconds(2)) == [])
        #expect(machine.timerFired(now: .seconds(10)) == [])
        #expect(machine.timerFired(now: .seconds(11)) == [.update(second, lowered: [])])
        #expect(machine.updated(running: second, failed: false, now: .seconds(11)) == [.setPriority(150, of: "web")])
        // Another plan goes at once, even within ten seconds of a refusal.
        let third = [Self.router("web", priority: 100)]
        _ = machine.planChanged(third, now: .seconds(12))
        _ = machine.updated(running: second, failed: true, now: .seconds(12))
        let fourth = [Self.router("web", priority: 90)]
        #expect(machine.planChanged(fourth, now: .seconds(13)) == [.update(fourth, lowered: [])])
    }

    @Test func aPlanBeforeTheStartIsTheOneStartedAndNewVirtualServersStartLowered() {
        var machine = TrackingStateMachine(plan: [])
        _ = machine.begin(now: .zero, health: Health(servable: [:], checksFinished: false))
        let plan = [Self.router("web")]
        #expect(machine.planChanged(plan, now: .seconds(1)) == [])
        #expect(machine.healthChanged(Self.down, now: .seconds(2)) == [.start(plan, lowered: ["web"])])
    }

    @Test func afterStopNothingHappens() {
        let plan = [Self.router("web")]
        var machine = TrackingStateMachine(plan: plan)
        _ = machine.begin(now: .zero, health: Self.unchecked)
        machine.stop()
        #expect(machine.healthChanged(Self.up, now: .seconds(1)) == [])
        #expect(machine.timerFired(now: .seconds(6)) == [])
        #expect(machine.planChanged([], now: .seconds(7)) == [])
    }
}
