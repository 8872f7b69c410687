import HALBCore
import HALBFailover
import Logging
import ServiceLifecycle

/// Runs the device's VRRP router as ``TrackingStateMachine`` decides: it starts it once the first health checks are
/// done, hands it each new plan the moment ``setPlan(_:)`` is called, and changes a virtual server's priority when
/// a gateway's health changes (``healthChanged()``). Nothing polls: an idle device wakes only for its health checks,
/// VRRP advertisements and, when managed, the agent's poll.
///
/// On graceful shutdown a master resigns (priority 0) before the balancer drains, so a backup takes over at once.
public actor FailoverController {
    private var machine: TrackingStateMachine
    private var router: (any VirtualRouting)?
    private let startRouter: VirtualRouterStarter
    private let health: @Sendable () async -> TrackingStateMachine.Health
    private let logger: Logger
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    /// Events are handled one at a time, each with its actions (which await the router).
    private let gate = SerialGate()
    private var timers: [Task<Void, Never>] = []
    /// Where a start failure goes, to end ``run()``.
    private var failures: AsyncStream<any Error>.Continuation?

    /// - Parameters:
    ///   - plan: the virtual routers of the device's first configuration.
    ///   - health: what the balancer says of the virtual servers' gateways now.
    ///   - start: starts the router (raw VRRP on the network, or the loopback demo's).
    public init(
        plan: [VirtualRouterConfiguration],
        health: @escaping @Sendable () async -> TrackingStateMachine.Health,
        start: @escaping VirtualRouterStarter,
        logger: Logger,
        startTimeout: Duration = .seconds(5)
    ) {
        self.machine = TrackingStateMachine(plan: plan, startTimeout: startTimeout)
        self.health = health
        self.startRouter = start
        self.logger = logger
        self.origin = ContinuousClock.now
    }

    /// The virtual routers the device should run.
    public var plan: [VirtualRouterConfiguration] { self.machine.wanted }

    /// The running virtual routers (none before the router started).
    public func status() async -> [VirtualRouterStatus] {
        await self.router?.status() ?? []
    }

    /// Runs failover until graceful shutdown, then stops the router (a master resigns).
    ///
    /// - Parameter healthChanges: one element per change of a gateway's health.
    /// - Throws: ``FailoverStartError`` when the router cannot start; the device stops rather than run without it.
    public func run(healthChanges: AsyncStream<Void>) async throws {
        let (failures, failed) = AsyncStream.makeStream(of: (any Error).self)
        self.failures = failed
        let health = await self.health()
        await self.handle { machine, now in machine.begin(now: now, health: health) }
        let failure = await cancelWhenGracefulShutdown {
            await withTaskGroup(of: (any Error)?.self) { group in
                group.addTask {
                    for await _ in healthChanges { await self.healthChanged() }
                    return nil
                }
                group.addTask {
                    for await error in failures { return error }
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }
        await self.gate.run {
            self.machine.stop()
            for timer in self.timers { timer.cancel() }
            self.timers = []
            await self.router?.shutdown()
        }
        if let failure { throw FailoverStartError(reason: "\(failure)") }
    }

    /// Runs `plan` from now on. Returns once the router runs it (or has refused it; it is tried again), or at once
    /// while the router has not started yet (it starts with the newest plan).
    public func setPlan(_ plan: [VirtualRouterConfiguration]) async {
        let health = await self.health()
        await self.handle { machine, now in
            machine.healthChanged(health, now: now) + machine.planChanged(plan, now: now)
        }
    }

    /// A gateway's health, or the balancer's configuration, changed.
    public func healthChanged() async {
        let health = await self.health()
        await self.handle { machine, now in machine.healthChanged(health, now: now) }
    }

    private func timerFired() async {
        await self.handle { machine, now in machine.timerFired(now: now) }
    }

    private var now: Duration { self.clock.now - self.origin }

    /// Feeds one event to the machine and carries out its actions, and those they lead to, before the next event.
    private func handle(_ event: (inout TrackingStateMachine, Duration) -> [TrackingStateMachine.Action]) async {
        await self.gate.run {
            var actions = event(&self.machine, self.now)
            while !actions.isEmpty {
                let action = actions.removeFirst()
                actions += await self.perform(action)
            }
        }
    }

    private func perform(_ action: TrackingStateMachine.Action) async -> [TrackingStateMachine.Action] {
        switch action {
        case .start(let plan, let lowered):
            do {
                let router = try await self.startRouter()
                self.router = router
                try await router.update(plan) { lowered.contains($0) ? 1 : nil }
                let running = await router.configurations()
                return self.machine.updated(running: running, failed: false, now: self.now)
            } catch {
                self.machine.stop()
                self.failures?.yield(error)
                return []
            }
        case .update(let plan, let lowered):
            guard let router = self.router else { return [] }
            var failed = false
            do {
                try await router.update(plan) { lowered.contains($0) ? 1 : nil }
                self.logger.notice("Failover settings applied", metadata: ["vrrp.instances": "\(plan.count)"])
            } catch {
                failed = true
                self.logger.error("Cannot apply failover settings", metadata: ["error": "\(error)"])
            }
            let running = await router.configurations()
            return self.machine.updated(running: running, failed: failed, now: self.now)
        case .setPriority(let priority, let name):
            self.router?.setPriority(priority, of: name)
            return []
        case .wake(let at):
            let delay = at - self.now
            self.timers.removeAll { $0.isCancelled }
            self.timers.append(
                Task {
                    try? await Task.sleep(for: delay)
                    guard !Task.isCancelled else { return }
                    await self.timerFired()
                }
            )
            return []
        }
    }
}

/// Failover could not start; the device stops rather than run without it.
public struct FailoverStartError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String {
        "cannot start failover: \(self.reason) (failover needs root, or CAP_NET_ADMIN and CAP_NET_RAW)"
    }
}
