import ArgumentParser
import CHALBLinux
import Foundation
import HALBBalancer
import HALBCore
import HALBDevice
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus

/// `halb device`'s wiring: reads the first configuration, builds the device (``buildDevice``) and runs it until
/// SIGTERM or SIGINT.
struct DeviceRuntime {
    var source: ConfigSource
    var options: HALBDevice.DeviceOptions
    var threads: Int
    var logger: Logger

    func run() async throws {
        // A SIGHUP before the reload service traps it must not end the process (its default action); the file
        // check still picks up a change.
        signal(SIGHUP, SIG_IGN)
        let site: Site
        do {
            site = try self.source.site()
        } catch let error as ConfigurationError {
            throw CommandFailure.exit("\(self.source.name): invalid\n\(error.description)")
        } catch {
            throw CommandFailure.exit("cannot read \(self.source.name): \(error)")
        }
        if let problem = SiteFile.problem(site: site, device: self.options.name) {
            throw CommandFailure.exit("\(self.source.name): \(problem)")
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        defer { Task { try? await group.shutdownGracefully() } }
        let device: DeviceApplication
        do {
            device = try await buildDevice(
                site: site,
                source: self.source,
                options: self.options,
                group: group,
                registry: registry,
                logger: self.logger
            )
        } catch {
            throw CommandFailure.exit("\(error)")
        }
        do {
            try await device.run(logger: self.logger)
        } catch let error as IOError {
            // The listeners are bound before the services run, so a socket error here is the admin endpoint's.
            let address = BalancerError.cannotListen(
                address: "\(self.options.adminHost):\(self.options.adminPort)",
                error: error
            )
            throw CommandFailure.exit("\(address) (admin endpoint)")
        } catch {
            throw CommandFailure.exit("\(error)")
        }
        var logger = self.logger
        logger[metadataKey: "device.name"] = "\(self.options.name)"
        logger.notice("Device stopped")
    }

    /// Sends this process SIGTERM when its parent exits, watching the parent's pidfd on a thread that sleeps until
    /// then (no periodic check).
    static func stopWithParent() {
        let parent = getppid()
        let descriptor = chalb_pidfd_open(parent)
        guard descriptor >= 0, getppid() == parent else {
            // The parent is gone already (or pidfd_open is missing): stop now.
            kill(getpid(), SIGTERM)
            return
        }
        Thread.detachNewThread {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            while poll(&entry, 1, -1) < 0, errno == EINTR {}
            kill(getpid(), SIGTERM)
        }
    }
}
