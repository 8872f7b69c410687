import HALBCore
import Testing

/// Times are `Duration`s since an arbitrary origin, so the tests are their own fake clock.
@Suite struct LogRateLimiterTests {
    @Test func theFirstLineIsWrittenThenOneASecondWithTheCountLeftOut() {
        var limiter = LogRateLimiter()
        #expect(limiter.decide(now: .seconds(10)) == .log(suppressed: 0))
        // 2000 packets in 10 ms: none of them is logged.
        for step in 0..<2000 {
            #expect(limiter.decide(now: .seconds(10) + .microseconds(5 * step)) == .suppress)
        }
        // The next line after a second says how many were left out.
        #expect(limiter.decide(now: .seconds(10) + .milliseconds(999)) == .suppress)
        #expect(limiter.decide(now: .seconds(11)) == .log(suppressed: 2001))
        #expect(limiter.decide(now: .seconds(11) + .milliseconds(1)) == .suppress)
        // A quiet spell: the next line is written at once, and the count starts again.
        #expect(limiter.decide(now: .seconds(60)) == .log(suppressed: 1))
        #expect(limiter.decide(now: .seconds(61)) == .log(suppressed: 0))
    }

    @Test func theIntervalCanBeChosen() {
        var limiter = LogRateLimiter(interval: .milliseconds(100))
        #expect(limiter.interval == .milliseconds(100))
        #expect(limiter.decide(now: .zero) == .log(suppressed: 0))
        #expect(limiter.decide(now: .milliseconds(99)) == .suppress)
        #expect(limiter.decide(now: .milliseconds(100)) == .log(suppressed: 1))
    }

    @Test func aClockThatGoesBackLetsTheLineThrough() {
        var limiter = LogRateLimiter()
        #expect(limiter.decide(now: .seconds(5)) == .log(suppressed: 0))
        #expect(limiter.decide(now: .seconds(5) + .milliseconds(1)) == .suppress)
        #expect(limiter.decide(now: .seconds(1)) == .log(suppressed: 1))
        #expect(limiter.decide(now: .seconds(1) + .milliseconds(1)) == .suppress)
    }

    @Test func limitersOfDifferentKindsAreIndependent() {
        var limiters: [String: LogRateLimiter] = [:]
        #expect(limiters["sender", default: LogRateLimiter()].decide(now: .zero) == .log(suppressed: 0))
        #expect(limiters["addresses", default: LogRateLimiter()].decide(now: .zero) == .log(suppressed: 0))
        #expect(limiters["sender", default: LogRateLimiter()].decide(now: .milliseconds(1)) == .suppress)
    }
}
