import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Runs the active health check of one ``GatewayTarget`` every interval on one event loop, feeds the results to a
/// ``HealthStateMachine`` and publishes its decisions: the target's availability, a log line with the reason, the
/// `halb_gateway_up` gauge.
final class HealthChecker: Sendable {
    private let target: GatewayTarget
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let machine: NIOLoopBoundBox<HealthStateMachine>
    private let task = NIOLockedValueBox<RepeatedTask?>(nil)
    /// Checks that could not run for the device's own shortage are logged at most once every 10 s per gateway.
    private let shortageLog: NIOLoopBoundBox<LogRateLimiter>
    /// Called after each change of the target's health.
    private let onChange: @Sendable () -> Void

    init(target: GatewayTarget, eventLoop: any EventLoop, logger: Logger, onChange: @escaping @Sendable () -> Void = {})
    {
        self.target = target
        self.onChange = onChange
        self.eventLoop = eventLoop
        var logger = logger
        logger[metadataKey: "gateway.name"] = "\(target.key.name)"
        logger[metadataKey: "gateway.address"] = "\(SocketAddress.hostPort(target.key.address, target.key.port))"
        logger[metadataKey: "check.type"] = "\(target.key.healthCheck.type)"
        self.logger = logger
        let check = target.key.healthCheck
        self.machine = NIOLoopBoundBox.makeBoxSendingValue(
            HealthStateMachine(rise: check.rise, fall: check.fall),
            eventLoop: eventLoop
        )
        self.shortageLog = NIOLoopBoundBox.makeBoxSendingValue(
            LogRateLimiter(interval: .seconds(10)),
            eventLoop: eventLoop
        )
    }

    /// Starts checking now, then every interval after each check ends.
    func start() {
        let check = self.target.key.healthCheck
        let task = self.eventLoop.scheduleRepeatedAsyncTask(
            initialDelay: .zero,
            delay: .milliseconds(check.interval.milliseconds)
        ) { _ in
            HealthProbe.run(
                check,
                address: self.target.key.address,
                socketAddress: self.target.socketAddress,
                port: self.target.key.port,
                on: self.eventLoop
            )
            .map { detail in self.record(.success(detail)) }
            .recover { error in self.record(.failure(error)) }
        }
        self.task.withLockedValue { $0 = task }
    }

    /// Stops checking; the target keeps its last health.
    func stop() {
        self.task.withLockedValue {
            $0?.cancel()
            $0 = nil
        }
    }

    private func record(_ result: Result<String, any Error>) {
        let action: HealthStateMachine.Action
        switch result {
        case .success(let detail):
            action = self.machine.value.recordSuccess(detail)
            self.target.health.withLockedValue { $0.lastCheck = "passed: \(detail)" }
        case .failure(let error) where HealthProbeFailure.isLocalShortage(error):
            // Out of descriptors or memory here: the check did not run, so the gateway keeps its health (marking
            // every gateway down would also push a pair into failover through tracking). It is this device's
            // problem, and said so.
            let reason = HealthProbeFailure(describing: error).description
            self.target.health.withLockedValue { $0.lastCheck = "not run: \(reason) on this device" }
            let now = Duration.nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds))
            if case .log(let suppressed) = self.shortageLog.value.decide(now: now) {
                self.logger.warning(
                    "Health check not run: this device is short of resources",
                    metadata: ["error": "\(reason)", "log.suppressed": "\(suppressed)"]
                )
            }
            return
        case .failure(let error):
            let reason = HealthProbeFailure(describing: error).description
            action = self.machine.value.recordFailure(reason)
            self.target.health.withLockedValue { $0.lastCheck = "failed: \(reason)" }
        }
        switch action {
        case .none:
            break
        case .markUp(let reason):
            self.target.setHealth(.up, reason: reason)
            self.logger.notice("Gateway is up", metadata: ["reason": "\(reason)"])
            self.onChange()
        case .markDown(let reason):
            self.target.setHealth(.down, reason: reason)
            self.logger.warning("Gateway is down", metadata: ["reason": "\(reason)"])
            self.onChange()
        }
    }
}
