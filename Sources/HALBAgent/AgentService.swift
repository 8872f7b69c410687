import Foundation
import HALBCore
import HALBWire
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps a managed device in step with its console: long-polls the configuration, has it applied, stores it and
/// acknowledges it (or reports why it was refused), and sends a heartbeat every few seconds.
///
/// The console being away never touches traffic: the device keeps serving what it runs, and tries again.
public struct AgentService: Service {
    let client: AgentClient
    let state: AgentStateDirectory
    let logger: Logger
    /// The version running when the service starts (from the cache or the first fetch).
    let initialVersion: Int
    /// The initial configuration, when it was just fetched (not from the cache): stored and acknowledged first.
    let fetchedInitially: Site?
    /// Validates and applies a configuration as a whole, or throws why not; the running configuration must be
    /// untouched then.
    let apply: @Sendable (Site) async throws -> Void
    /// What the next heartbeat reports.
    let report: @Sendable () async -> AgentReport
    let heartbeatInterval: Duration
    /// Carries out a "ping host" check the console hands over; `nil`: the device takes none.
    let check: (@Sendable (ReachabilityCheck) async -> ReachabilityAnswer)?
    /// One element whenever the report changes in a way the console should see at once (a VRRP transition): a
    /// heartbeat goes out then, without waiting for the next interval.
    let reportChanges: AsyncStream<Void>?

    public init(
        client: AgentClient,
        state: AgentStateDirectory,
        logger: Logger,
        initialVersion: Int,
        fetchedInitially: Site? = nil,
        heartbeatInterval: Duration = .seconds(2),
        apply: @escaping @Sendable (Site) async throws -> Void,
        report: @escaping @Sendable () async -> AgentReport,
        check: (@Sendable (ReachabilityCheck) async -> ReachabilityAnswer)? = nil,
        reportChanges: AsyncStream<Void>? = nil
    ) {
        self.check = check
        self.reportChanges = reportChanges
        self.client = client
        self.state = state
        self.logger = logger
        self.initialVersion = initialVersion
        self.fetchedInitially = fetchedInitially
        self.heartbeatInterval = heartbeatInterval
        self.apply = apply
        self.report = report
    }

    public func run() async throws {
        let acknowledgements = AcknowledgementQueue()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.followConfiguration(acknowledgements) }
                group.addTask { await self.sendHeartbeats() }
                group.addTask { await self.sendAcknowledgements(acknowledgements) }
                if let check = self.check {
                    group.addTask { await self.answerChecks(check) }
                }
                await group.waitForAll()
            }
        }
        // A last heartbeat on the way out, so the console shows at once that the device is offline and serves
        // nothing any more (it would show its last roles until three heartbeats are missed). Bounded: a console away
        // must not hold the stop.
        if Task.isShuttingDownGracefully {
            var last = await self.report()
            last.stopping = true
            try? await self.client.heartbeat(last, timeout: .seconds(2))
        }
    }

    /// Takes the console's "ping host" checks (a long poll) and answers each; a console away is tried again after
    /// 1, 2, 4 ... 10 s.
    private func answerChecks(_ check: @escaping @Sendable (ReachabilityCheck) async -> ReachabilityAnswer) async {
        var failures = 0
        while !Task.isCancelled {
            do {
                for request in try await self.client.checks() {
                    let answer = await check(request)
                    try await self.client.answer(answer)
                }
                failures = 0
            } catch {
                failures += 1
                self.logger.debug("Cannot take checks from the console", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(min(10, 1 << min(failures - 1, 4))))
            }
        }
    }

    private func followConfiguration(_ acknowledgements: AcknowledgementQueue) async {
        var version = self.initialVersion
        if let site = self.fetchedInitially {
            do {
                try self.state.storeConfiguration(version: version, site: site)
                self.state.pruneCertificates(keeping: site)
            } catch {
                self.logger.error("Cannot cache the configuration", metadata: ["error": "\(error)"])
            }
            acknowledgements.send(version: version, error: nil)
        }
        var failures = 0
        while !Task.isCancelled {
            let next: ConfigurationUpdate?
            do {
                next = try await self.client.configuration(after: version)
                failures = 0
            } catch {
                // The heartbeats log the console's reachability; a long poll may take 30 s to tell.
                failures += 1
                self.logger.debug("Configuration request failed", metadata: ["error": "\(error)"])
                // 1 s, 2 s, ... up to 10 s between tries.
                try? await Task.sleep(for: .seconds(min(10, failures)))
                continue
            }
            guard let next else { continue }
            let site: Site
            do {
                // Certificates uploaded to the console become files of the state directory first.
                site = try self.state.materialize(next)
                try await self.apply(site)
            } catch {
                self.logger.error(
                    "Configuration from the console refused: the running configuration keeps serving",
                    metadata: ["site.version": "\(next.version)", "error": "\(error)"]
                )
                acknowledgements.send(version: next.version, error: "\(error)")
                // A refused version is not fetched again: the next one is awaited.
                version = next.version
                continue
            }
            version = next.version
            self.logger.notice("Configuration from the console applied", metadata: ["site.version": "\(next.version)"])
            do {
                try self.state.storeConfiguration(version: next.version, site: site)
                self.state.pruneCertificates(keeping: site)
            } catch {
                // It runs; only a restart without the console would start from the older cached one.
                self.logger.error("Cannot cache the configuration", metadata: ["error": "\(error)"])
            }
            acknowledgements.send(version: next.version, error: nil)
        }
    }

    /// Delivers the acknowledgements (ACK or NACK) as they come, the latest only: a console that cannot be reached
    /// or answers with a server error gets it again after 1 s, 2 s, 4 s ... up to 30 s, until it takes it or a newer
    /// one replaces it. A failure is logged (the first, then one in ten); a console that refuses it (a client
    /// error) gets no retry.
    private func sendAcknowledgements(_ acknowledgements: AcknowledgementQueue) async {
        for await _ in acknowledgements.requests {
            var failures = 0
            while !Task.isCancelled, let acknowledgement = acknowledgements.pending {
                do {
                    try await self.client.acknowledge(version: acknowledgement.version, error: acknowledgement.error)
                    acknowledgements.delivered(acknowledgement)
                    if failures > 0 {
                        self.logger.notice(
                            "Acknowledgement delivered to the console",
                            metadata: ["site.version": "\(acknowledgement.version)", "ack.attempts": "\(failures + 1)"]
                        )
                    }
                    failures = 0
                } catch let error as AgentError where !error.isTransient {
                    acknowledgements.delivered(acknowledgement)
                    self.logger.error(
                        "The console refused the acknowledgement",
                        metadata: ["site.version": "\(acknowledgement.version)", "error": "\(error)"]
                    )
                    failures = 0
                } catch {
                    if failures % 10 == 0 {
                        self.logger.warning(
                            "Cannot acknowledge the configuration to the console; trying again",
                            metadata: ["site.version": "\(acknowledgement.version)", "error": "\(error)"]
                        )
                    }
                    failures += 1
                    try? await Task.sleep(for: .seconds(min(30, 1 << min(failures - 1, 5))))
                }
            }
        }
    }

    /// Sends a heartbeat every interval and after each change of the report (at most four a second), and logs when
    /// the console stops or starts answering them (at most one warning a minute while it is away).
    private func sendHeartbeats() async {
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // Each task says whether it was the sender: when that one ends (cancelled), so do the others.
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    wake.yield()
                    try? await Task.sleep(for: self.heartbeatInterval)
                }
                return false
            }
            if let changes = self.reportChanges {
                group.addTask {
                    for await _ in changes { wake.yield() }
                    return false
                }
            }
            group.addTask {
                await self.sendHeartbeats(at: wakes)
                return true
            }
            while let sender = await group.next(), !sender {}
            group.cancelAll()
        }
    }

    private func sendHeartbeats(at wakes: AsyncStream<Void>) async {
        var failures = 0
        for await _ in wakes {
            do {
                var report = await self.report()
                report.heartbeatInterval = Int(max(1, self.heartbeatInterval.components.seconds))
                try await self.client.heartbeat(report)
                if failures > 0 { self.logger.notice("Console reachable again") }
                failures = 0
            } catch {
                // Stopping (the device's last heartbeat says so separately): a cancelled report is no news.
                if Task.isCancelled { break }
                if failures % 12 == 0 {
                    // A console that answers but refuses the report is reachable: say which it is.
                    let refused = (error as? AgentError).map { !$0.isTransient } ?? false
                    self.logger.warning(
                        refused
                            ? "The console refused the heartbeat; the running configuration keeps serving"
                            : "Console unreachable; the running configuration keeps serving",
                        metadata: ["console.url": "\(self.client.identity.console)", "error": "\(error)"]
                    )
                }
                failures += 1
            }
            // Coalesces a burst of changes (the wake buffers one).
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// The acknowledgement waiting to be delivered (the latest replaces an older one: the console only needs to know
/// the latest version's fate), and a wake-up for the task that delivers it.
final class AcknowledgementQueue: Sendable {
    struct Acknowledgement: Sendable, Equatable {
        var version: Int
        var error: String?
    }

    let requests: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let waiting = Mutex<Acknowledgement?>(nil)

    init() {
        (self.requests, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues an ACK (`error` nil) or a NACK of `version`, replacing any undelivered one.
    func send(version: Int, error: String?) {
        self.waiting.withLock { $0 = Acknowledgement(version: version, error: error) }
        self.wake.yield()
    }

    var pending: Acknowledgement? { self.waiting.withLock { $0 } }

    /// `acknowledgement` reached the console (or was refused for good): done, unless a newer one came meanwhile.
    func delivered(_ acknowledgement: Acknowledgement) {
        self.waiting.withLock { if $0 == acknowledgement { $0 = nil } }
    }

    deinit {
        self.wake.finish()
    }
}
