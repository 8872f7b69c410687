import Foundation
import HALBBalancer
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells systemd how the service is doing (sd_notify(3)): `READY=1` once it serves, `WATCHDOG=1` while it is alive,
/// `STOPPING=1` when it stops, `STATUS=…` in words. Datagrams to the socket `NOTIFY_SOCKET` names (a path, or an
/// abstract name after `@`).
public struct SystemdNotifier: Sendable {
    /// The socket's address bytes (`sun_path`; a leading 0 for an abstract name).
    let path: [UInt8]
    /// How often systemd wants `WATCHDOG=1` (`WATCHDOG_USEC`), when it watches this process.
    public let watchdogInterval: Duration?

    /// The notifier of a process systemd started with `Type=notify`, or `nil` when `NOTIFY_SOCKET` is unset or not
    /// a socket address. Takes the variables out of the environment, so that children (a notify command) neither
    /// inherit nor misuse them.
    public static func fromEnvironment() -> SystemdNotifier? {
        let environment = ProcessInfo.processInfo.environment
        defer {
            for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { unsetenv(name) }
        }
        return SystemdNotifier(environment: environment, pid: Int(getpid()))
    }

    init?(environment: [String: String], pid: Int) {
        guard let socket = environment["NOTIFY_SOCKET"], socket.hasPrefix("/") || socket.hasPrefix("@"),
            socket.utf8.count < 108
        else { return nil }
        self.path = socket.hasPrefix("@") ? [0] + Array(socket.utf8.dropFirst()) : Array(socket.utf8)
        // The watchdog is this process's when WATCHDOG_PID names it, or names nobody.
        let watched = environment["WATCHDOG_PID"].map { Int($0) == pid } ?? true
        if watched, let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 {
            self.watchdogInterval = .microseconds(microseconds)
        } else {
            self.watchdogInterval = nil
        }
    }

    /// Sends `state` (`KEY=value` lines); whether systemd's socket took it.
    @discardableResult
    public func send(_ state: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in self.path.enumerated() { bytes[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + self.path.count)
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, 0, socketAddress, length) }
            }
        }
        return sent == bytes.count
    }
}

/// A device's side of systemd's `Type=notify`: `READY=1` once the device serves (its listeners are bound before the
/// services run; this waits for the first health checks too, at most `readyTimeout`), `WATCHDOG=1` at half
/// systemd's interval for as long as the device answers (a balancer that no longer answers lets the watchdog
/// restart it), and `STOPPING=1` on graceful shutdown.
struct SystemdReadiness: Service {
    let notifier: SystemdNotifier
    let device: RunningDevice
    let logger: Logger
    var readyTimeout: Duration = .seconds(10)

    func run() async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: self.readyTimeout)
        // Only at start-up, 10 s at most: the balancer has no event for "the first checks finished".
        while await !self.device.balancer.firstChecksFinished(), clock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let status = await self.device.balancer.status()
        let up = status.gateways.filter { $0.health == "up" }.count
        self.notifier.send(
            "READY=1\nSTATUS=Serving \(status.virtualServers.count) virtual servers, \(up) of \(status.gateways.count) gateways up"
        )
        self.logger.info("Told systemd the device is ready")
        await cancelWhenGracefulShutdown {
            guard let interval = self.notifier.watchdogInterval else {
                try? await gracefulShutdown()
                return
            }
            while !Task.isCancelled {
                _ = await self.device.balancer.status()
                self.notifier.send("WATCHDOG=1")
                try? await Task.sleep(for: interval / 2)
            }
        }
        self.notifier.send("STOPPING=1\nSTATUS=Resigning and draining")
    }
}
