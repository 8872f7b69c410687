import Testing

@testable import HALBBalancer

@Suite struct HealthStateMachineTests {
    @Test func firstResultDecidesAtOnce() {
        var up = HealthStateMachine(rise: 3, fall: 3)
        #expect(up.state == .unknown)
        #expect(up.isAvailable)
        #expect(up.recordSuccess("ok") == .markUp(reason: "first check passed: ok"))
        var down = HealthStateMachine(rise: 3, fall: 3)
        #expect(down.recordFailure("refused") == .markDown(reason: "first check failed: refused"))
        #expect(!down.isAvailable)
    }

    @Test func upGatewayGoesDownAfterFallConsecutiveFailures() {
        var machine = HealthStateMachine(rise: 2, fall: 3)
        _ = machine.recordSuccess("ok")
        #expect(machine.recordFailure("a") == .none)
        #expect(machine.recordFailure("b") == .none)
        #expect(machine.state == .up)
        #expect(machine.recordFailure("c") == .markDown(reason: "3 consecutive checks failed, last: c"))
        #expect(machine.state == .down)
    }

    @Test func aSuccessResetsTheFailureStreak() {
        var machine = HealthStateMachine(rise: 2, fall: 2)
        _ = machine.recordSuccess("ok")
        #expect(machine.recordFailure("a") == .none)
        #expect(machine.recordSuccess("ok") == .none)
        #expect(machine.recordFailure("b") == .none)
        #expect(machine.state == .up)
    }

    @Test func downGatewayComesUpAfterRiseConsecutiveSuccesses() {
        var machine = HealthStateMachine(rise: 2, fall: 1)
        _ = machine.recordFailure("refused")
        #expect(machine.recordSuccess("ok") == .none)
        #expect(machine.recordFailure("refused") == .none)
        #expect(machine.recordSuccess("ok") == .none)
        #expect(machine.recordSuccess("ok") == .markUp(reason: "2 consecutive checks passed: ok"))
        #expect(machine.state == .up)
    }
}
