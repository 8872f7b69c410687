import Atomics
import NIOCore

/// Lets one log line through per `interval` and counts the ones held back, lock-free for the event loops: the shared,
/// atomic form of HALBCore's `LogRateLimiter` (a value for one thread), for lines any relay thread may write.
final class LogLimiter: Sendable {
    private let interval: Int64
    private let nextAllowed = ManagedAtomic<Int64>(0)
    private let suppressed = ManagedAtomic<Int>(0)

    init(interval: TimeAmount) {
        self.interval = interval.nanoseconds
    }

    /// `nil` when the line must be dropped; otherwise how many were dropped since the last one let through.
    func admit(now: NIODeadline = .now()) -> Int? {
        let now = Int64(truncatingIfNeeded: now.uptimeNanoseconds)
        let next = self.nextAllowed.load(ordering: .relaxed)
        guard now >= next,
            self.nextAllowed.compareExchange(expected: next, desired: now + self.interval, ordering: .relaxed).exchanged
        else {
            self.suppressed.wrappingIncrement(ordering: .relaxed)
            return nil
        }
        return self.suppressed.exchange(0, ordering: .relaxed)
    }
}
