/// Decides whether a log line that may repeat for every packet (or every connection) is written now: at most one
/// line per ``interval``, and the line that is written says how many were left out since the previous one.
///
/// It is a value that only decides; the caller keeps one per kind of line and subject (for example per virtual
/// router), passes the time with each call, and writes the line itself. Time is a `Duration` since any fixed
/// origin, such as the event loop's uptime, so tests drive it with a fake clock. Counters and metrics are not its
/// business: they still count every event.
///
/// ```swift
/// if case .log(let suppressed) = self.limiter.decide(now: now) {
///     logger.warning("Packet dropped", metadata: ["log.suppressed": "\(suppressed)"])
/// }
/// ```
public struct LogRateLimiter: Sendable, Hashable {
    /// What to do with one occurrence of the line.
    public enum Decision: Sendable, Hashable {
        /// Write the line, with the number of occurrences left out since the previous line (0 for none).
        case log(suppressed: Int)
        /// Leave the line out; it is counted in the next line's `suppressed`.
        case suppress
    }

    /// The shortest time between two lines.
    public let interval: Duration
    /// When the last line was written; `nil` before the first.
    private var lastLogged: Duration?
    /// Occurrences left out since the last line.
    private var suppressed = 0

    /// Creates a limiter that lets the first line through.
    ///
    /// - Parameter interval: the shortest time between two lines; one second by default.
    public init(interval: Duration = .seconds(1)) {
        self.interval = interval
    }

    /// Records one occurrence of the line at `now` and says whether to write it.
    ///
    /// - Parameter now: the current time, on the same clock as every other call. A time before the last line's
    ///   (a clock that went back) lets the line through, so a limiter never stays silent for long.
    /// - Returns: ``Decision/log(suppressed:)`` with the count of lines left out since the previous one, or
    ///   ``Decision/suppress``.
    public mutating func decide(now: Duration) -> Decision {
        if let lastLogged = self.lastLogged, now >= lastLogged, now - lastLogged < self.interval {
            self.suppressed += 1
            return .suppress
        }
        let suppressed = self.suppressed
        self.lastLogged = now
        self.suppressed = 0
        return .log(suppressed: suppressed)
    }
}
