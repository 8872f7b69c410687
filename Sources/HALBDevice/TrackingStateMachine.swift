import HALBFailover

/// When a device starts its virtual routers, which ones it runs, and at what priority: the device's side of
/// failover, as a value. Feed it what happens (health changed, a new plan, a timer, the router's answers) with the
/// time now; carry out the actions it returns, in order.
///
/// - It starts the router once every gateway's first health check has finished, or ``startTimeout`` after
///   ``begin(now:health:)`` (so a device never claims a VIP it cannot serve yet, and never waits for ever).
/// - Tracking: a virtual server none of whose gateways can take a connection runs at priority 1, so a peer that can
///   serve takes the VIP; it gets its configured priority back once one can.
/// - A new plan (a reload) is applied at once; a plan the router refused is tried again ``retryInterval`` later, or
///   sooner when the plan changes again.
///
/// Time is a `Duration` since any fixed origin (tests pass their own).
public struct TrackingStateMachine: Sendable, Equatable {
    /// What the gateways of the device's virtual servers allow now.
    public struct Health: Sendable, Equatable {
        /// Whether each virtual server can serve (one of its gateways is neither down nor draining).
        public var servable: [String: Bool]
        /// Whether every gateway's first check has finished.
        public var checksFinished: Bool

        public init(servable: [String: Bool], checksFinished: Bool) {
            self.servable = servable
            self.checksFinished = checksFinished
        }
    }

    public enum Action: Sendable, Equatable {
        /// Start the router with these virtual routers; those of `lowered` virtual servers start at priority 1.
        case start([VirtualRouterConfiguration], lowered: Set<String>)
        /// Make the router run these virtual routers; new ones of `lowered` virtual servers start at priority 1.
        /// Answer with ``updated(running:failed:now:)``.
        case update([VirtualRouterConfiguration], lowered: Set<String>)
        /// Set the effective priority of a virtual server's routers.
        case setPriority(UInt8, of: String)
        /// Call ``timerFired(now:)`` at this time.
        case wake(at: Duration)
    }

    public enum Phase: Sendable, Equatable {
        /// ``begin(now:health:)`` has not been called.
        case idle
        /// Waiting for the first health checks, until the deadline.
        case waitingForChecks(deadline: Duration)
        /// The router has been asked to start.
        case running
        /// Stopped: nothing more happens.
        case stopped
    }

    public let startTimeout: Duration
    public let retryInterval: Duration
    public private(set) var phase: Phase = .idle
    /// The virtual routers the device should run.
    public private(set) var wanted: [VirtualRouterConfiguration]
    /// Those the router runs (as far as it said).
    public private(set) var running: [VirtualRouterConfiguration] = []
    private var health = Health(servable: [:], checksFinished: false)
    /// The effective priority last set per virtual server.
    private var priorities: [String: UInt8] = [:]
    /// The plan the router last refused, and when.
    private var refused: Refusal?

    private struct Refusal: Sendable, Equatable {
        var plan: [VirtualRouterConfiguration]
        var at: Duration
    }

    public init(
        plan: [VirtualRouterConfiguration],
        startTimeout: Duration = .seconds(5),
        retryInterval: Duration = .seconds(10)
    ) {
        self.wanted = plan
        self.startTimeout = startTimeout
        self.retryInterval = retryInterval
    }

    /// The virtual servers that cannot serve now.
    private var lowered: Set<String> {
        Set(self.wanted.map(\.name).filter { self.health.servable[$0] != true })
    }

    /// The device is up: start now if the checks are done, else wait for them.
    public mutating func begin(now: Duration, health: Health) -> [Action] {
        guard self.phase == .idle else { return [] }
        self.health = health
        if health.checksFinished { return self.start() }
        let deadline = now + self.startTimeout
        self.phase = .waitingForChecks(deadline: deadline)
        return [.wake(at: deadline)]
    }

    /// A gateway's health changed, or the balancer's configuration did.
    public mutating func healthChanged(_ health: Health, now: Duration) -> [Action] {
        self.health = health
        switch self.phase {
        case .idle, .stopped: return []
        case .waitingForChecks: return health.checksFinished ? self.start() : []
        case .running: return self.track()
        }
    }

    /// The device's configuration changed: run `plan` from now on.
    public mutating func planChanged(_ plan: [VirtualRouterConfiguration], now: Duration) -> [Action] {
        self.wanted = plan
        guard self.phase == .running, plan != self.running else { return [] }
        // The plan refused a moment ago waits for its retry.
        if let refused = self.refused, refused.plan == plan, now < refused.at + self.retryInterval { return [] }
        return [.update(plan, lowered: self.lowered)]
    }

    public mutating func timerFired(now: Duration) -> [Action] {
        switch self.phase {
        case .waitingForChecks(let deadline) where now >= deadline:
            return self.start()
        case .running:
            guard let refused = self.refused, self.wanted != self.running, now >= refused.at + self.retryInterval
            else { return [] }
            return [.update(self.wanted, lowered: self.lowered)]
        default:
            return []
        }
    }

    /// The router started (or was updated) and now runs `running`; `failed` when it refused part of the plan.
    public mutating func updated(running: [VirtualRouterConfiguration], failed: Bool, now: Duration) -> [Action] {
        guard self.phase == .running else { return [] }
        self.running = running
        // A router that (re)started an instance set its priority itself: every priority is said again.
        self.priorities = [:]
        var actions = self.track()
        if failed {
            self.refused = Refusal(plan: self.wanted, at: now)
            actions.append(.wake(at: now + self.retryInterval))
        } else {
            self.refused = nil
        }
        return actions
    }

    /// The device stops: nothing more is started or updated.
    public mutating func stop() {
        self.phase = .stopped
    }

    private mutating func start() -> [Action] {
        self.phase = .running
        return [.start(self.wanted, lowered: self.lowered)]
    }

    /// The priority changes of the virtual servers that run.
    private mutating func track() -> [Action] {
        var actions: [Action] = []
        var seen: Set<String> = []
        for configuration in self.running where seen.insert(configuration.name).inserted {
            let priority = self.health.servable[configuration.name] == true ? configuration.priority : 1
            if self.priorities[configuration.name] != priority {
                self.priorities[configuration.name] = priority
                actions.append(.setPriority(priority, of: configuration.name))
            }
        }
        self.priorities = self.priorities.filter { name, _ in seen.contains(name) }
        return actions
    }
}
