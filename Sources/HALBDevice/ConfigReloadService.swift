import HALBBalancer
import HALBCore
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Reloads the device's configuration file on SIGHUP and when the file changes (inotify tells; without it, the
/// file is checked every second).
///
/// The file is read and validated as a whole, then handed to ``RunningDevice/apply(_:)``; a bad one is rejected with every
/// error logged and the running configuration keeps serving. A file whose site is the one running is not applied
/// again, except on SIGHUP with TLS offload (SIGHUP also reads renewed certificates and keys).
struct ConfigReloadService: Service {
    let source: ConfigSource
    let device: RunningDevice
    let logger: Logger

    func run() async throws {
        let stamps = StampBox(self.source.stamp())
        let signals = await UnixSignalsSequence(trapping: .sighup)
        // Both triggers feed one queue, so reloads run one at a time.
        let (triggers, queue) = AsyncStream.makeStream(of: Trigger.self, bufferingPolicy: .bufferingNewest(8))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals { queue.yield(.signal) }
                }
                group.addTask {
                    await self.watch {
                        if stamps.changed(to: self.source.stamp()) { queue.yield(.fileChanged) }
                    } watching: {
                        // A change made after the device read the file but before the watch began.
                        queue.yield(.started)
                    }
                }
                group.addTask {
                    for await trigger in triggers {
                        await self.reload(trigger: trigger)
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Calls `check` whenever the file may have changed, until cancelled, and `watching` once the watch is set.
    private func watch(_ check: @escaping @Sendable () -> Void, watching: @escaping @Sendable () -> Void) async {
        guard case .file(let path) = self.source else { return }
        var watching: (@Sendable () -> Void)? = watching
        do {
            while !Task.isCancelled {
                // A link swapped to another file: watch that one from now on.
                let watcher = try FileWatcher(path: path)
                watching?()
                watching = nil
                await withTaskCancellationHandler {
                    for await _ in watcher.events {
                        check()
                        if FileWatcher.watchedPaths(of: path) != watcher.paths { break }
                    }
                } onCancel: {
                    watcher.stop()
                }
                watcher.stop()
            }
        } catch {
            self.logger.warning(
                "Cannot watch the configuration file; checking it every second",
                metadata: ["config.source": "\(self.source.name)", "error": "\(error)"]
            )
            watching?()
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard !Task.isCancelled else { break }
                check()
            }
        }
    }

    private enum Trigger: String, Sendable {
        /// The watch began: the file is applied if it changed since the device read it (silently if not).
        case started = "start"
        case signal = "SIGHUP"
        case fileChanged = "file changed"
    }

    private func reload(trigger: Trigger) async {
        var logger = self.logger
        logger[metadataKey: "config.source"] = "\(self.source.name)"
        logger[metadataKey: "reload.trigger"] = "\(trigger.rawValue)"
        do {
            let site = try self.source.site()
            if site == (await self.device.site) {
                guard trigger != .started else { return }
                // SIGHUP also reads renewed TLS certificates and keys: with offload, the same site is applied again.
                guard trigger == .signal,
                    await self.device.balancer.status().listeners.contains(where: { $0.certificate != nil })
                else {
                    logger.info("Configuration unchanged")
                    return
                }
                logger.info("Configuration unchanged; reading the TLS certificates and keys again")
            }
            try await self.device.apply(site)
            let status = await self.device.balancer.status()
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
        } catch let error as SiteFile.FileProblem {
            logger.error("Configuration rejected: cannot read it", metadata: ["error": "\(error)"])
        } catch {
            logger.error(
                "Configuration rejected: the running configuration keeps serving",
                metadata: ["error": "\(error)"]
            )
        }
    }
}

/// The file's last stamp, so that only a change triggers a reload.
private final class StampBox: Sendable {
    private let stamp: Mutex<String?>

    init(_ stamp: String?) {
        self.stamp = Mutex(stamp)
    }

    func changed(to stamp: String?) -> Bool {
        self.stamp.withLock { current in
            guard stamp != current else { return false }
            current = stamp
            return stamp != nil
        }
    }
}
