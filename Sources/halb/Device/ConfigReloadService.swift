import Foundation
import HALBBalancer
import HALBCore
import HALBFailover
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the device's configuration on SIGHUP and when the file changes (checked every second).
///
/// A new file is validated as a whole first; a bad one is rejected with every error logged and the running
/// configuration keeps serving. A good one is applied by ``Balancer/apply(_:)`` without dropping connections, then
/// handed to the failover (``FailoverHandle/plan``).
struct ConfigReloadService: Service {
    let source: ConfigSource
    let applier: DeviceConfigApplier
    let logger: Logger
    /// The text of the configuration running now.
    let applied: String

    func run() async throws {
        let state = ReloadState(applied: self.applied, stamp: self.source.stamp())
        let signals = await UnixSignalsSequence(trapping: .sighup)
        // Both triggers feed one queue, so reloads run one at a time.
        let (triggers, queue) = AsyncStream.makeStream(of: Trigger.self, bufferingPolicy: .bufferingNewest(8))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { queue.yield(.signal) }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        guard !Task.isCancelled else { break }
                        if await state.stampChanged(to: self.source.stamp()) { queue.yield(.fileChanged) }
                    }
                }
                group.addTask {
                    for await trigger in triggers {
                        await self.reload(state: state, trigger: trigger.rawValue, force: trigger == .signal)
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private enum Trigger: String, Sendable {
        case signal = "SIGHUP"
        case fileChanged = "file changed"
    }

    private func reload(state: ReloadState, trigger: String, force: Bool) async {
        var logger = self.logger
        logger[metadataKey: "config.source"] = "\(self.source.name)"
        logger[metadataKey: "reload.trigger"] = "\(trigger)"
        let text: String
        do {
            text = try self.source.read()
        } catch {
            logger.error("Configuration rejected: cannot read it", metadata: ["error": "\(error)"])
            return
        }
        if await !state.shouldTry(text, force: force) {
            guard force else { return }
            // SIGHUP also reads renewed TLS certificates and keys: with offload, the same file is applied again.
            guard await self.applier.balancer.status().listeners.contains(where: { $0.certificate != nil }) else {
                logger.info("Configuration unchanged")
                return
            }
            logger.info("Configuration unchanged; reading the TLS certificates and keys again")
        }
        do {
            let site = try await self.applier.apply(text)
            await state.applied(text)
            let status = await self.applier.balancer.status()
            logger.notice(
                "Configuration applied",
                metadata: [
                    "site.name": "\(site.name)",
                    "site.version": "\(site.version)",
                    "config.generation": "\(status.configuration.generation)",
                    "listeners": "\(status.listeners.count)",
                ]
            )
        } catch let error as ConfigurationError {
            for issue in error.issues {
                logger.error("Configuration rejected", metadata: ["config.error": "\(issue)"])
            }
            logger.error(
                "Configuration rejected: the running configuration keeps serving",
                metadata: ["config.errors": "\(error.issues.count)"]
            )
        } catch {
            logger.error(
                "Configuration rejected: the running configuration keeps serving",
                metadata: ["error": "\(error)"]
            )
        }
    }
}

/// Applies a new site file to a running device as a whole, or not at all: validation, this device's part of it,
/// the balancer (which binds new listeners before changing anything), then the failover plan.
struct DeviceConfigApplier: Sendable {
    let device: String
    let balancer: Balancer
    /// The device's failover: a reload changes its plan.
    let failover: FailoverHandle
    /// Whether failover runs over loopback UDP (the demo), where the primary's listeners stand for the VIP.
    let loopbackFailover: Bool
    let logger: Logger

    /// - Returns: the site applied.
    /// - Throws: ``ConfigurationError`` with every issue, ``DeviceConfigProblem`` when the site is valid but not
    ///   for this device, or the balancer's error; the running configuration is untouched then.
    func apply(_ text: String) async throws -> Site {
        let site = try SiteReader.load(yaml: text)
        if let problem = SiteFile.problem(site: site, device: self.device) {
            throw DeviceConfigProblem(description: problem)
        }
        let configuration = BalancerConfiguration(site: site, device: self.device)
        let plan = FailoverPlan.configurations(site: site, device: self.device, unicast: self.loopbackFailover)
        if self.loopbackFailover {
            // The demo's "VIP" is the listeners: a new failover virtual server waits for its router to bind them.
            try await self.balancer.apply(
                configuration,
                failover: Set(plan.map(\.name)),
                previousFailover: Set(self.failover.plan.map(\.name))
            )
        } else {
            try await self.balancer.apply(configuration)
        }
        if plan != self.failover.plan {
            self.failover.plan = plan
        }
        return site
    }
}

/// A valid site that this device cannot run (it is not in it, or serves nothing in it).
struct DeviceConfigProblem: Error, CustomStringConvertible {
    var description: String
}

/// What the reloader has seen, so an unchanged or already-rejected file is not re-applied every second.
private actor ReloadState {
    private var applied: String
    private var lastTried: String
    private var stamp: String?

    init(applied: String, stamp: String?) {
        self.applied = applied
        self.lastTried = applied
        self.stamp = stamp
    }

    func stampChanged(to stamp: String?) -> Bool {
        guard stamp != self.stamp else { return false }
        self.stamp = stamp
        return stamp != nil
    }

    /// Whether `text` is worth validating: it differs from what runs and (unless forced) from the last try.
    func shouldTry(_ text: String, force: Bool) -> Bool {
        defer { self.lastTried = text }
        if text == self.applied { return false }
        return force || text != self.lastTried
    }

    func applied(_ text: String) {
        self.applied = text
    }
}
