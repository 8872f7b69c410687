/// The rise/fall logic of one gateway's health, as a value: feed it check results, act on what it returns.
///
/// A gateway starts `unknown` (treated as available) and the first result decides at once; after that `fall`
/// consecutive failures take an up gateway down and `rise` consecutive successes bring a down gateway up.
public struct HealthStateMachine: Sendable, Equatable {
    /// Health as the balancer sees it.
    public enum State: String, Sendable, Equatable, Codable {
        /// No check has finished yet; new connections may go to the gateway.
        case unknown
        /// Healthy.
        case up
        /// Unhealthy: no new connections.
        case down
    }

    /// What the caller should do after a result.
    public enum Action: Sendable, Equatable {
        /// Nothing changed.
        case none
        /// The gateway became healthy; log the reason.
        case markUp(reason: String)
        /// The gateway became unhealthy; log the reason.
        case markDown(reason: String)
    }

    /// The current state.
    public private(set) var state: State = .unknown
    /// Consecutive successes (while down) or failures (while up) counted toward a change.
    public private(set) var streak = 0
    private let rise: Int
    private let fall: Int

    /// Creates a machine needing `rise` successes to come up and `fall` failures to go down.
    public init(rise: Int, fall: Int) {
        self.rise = max(1, rise)
        self.fall = max(1, fall)
    }

    /// Whether new connections may be sent to the gateway.
    public var isAvailable: Bool { self.state != .down }

    /// Records a successful check.
    public mutating func recordSuccess(_ detail: String) -> Action {
        switch self.state {
        case .unknown:
            self.state = .up
            self.streak = 0
            return .markUp(reason: "first check passed: \(detail)")
        case .up:
            self.streak = 0
            return .none
        case .down:
            self.streak += 1
            guard self.streak >= self.rise else { return .none }
            self.state = .up
            self.streak = 0
            return .markUp(reason: "\(self.rise) consecutive checks passed: \(detail)")
        }
    }

    /// Records a failed check.
    public mutating func recordFailure(_ reason: String) -> Action {
        switch self.state {
        case .unknown:
            self.state = .down
            self.streak = 0
            return .markDown(reason: "first check failed: \(reason)")
        case .down:
            self.streak = 0
            return .none
        case .up:
            self.streak += 1
            guard self.streak >= self.fall else { return .none }
            self.state = .down
            self.streak = 0
            return .markDown(reason: "\(self.fall) consecutive checks failed, last: \(reason)")
        }
    }
}
