import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The demo's two devices, each a `halb device` child process on the embedded site, with failover over UDP on
/// loopback: the primary listens on the VIP, the secondary takes over when the primary stops.
final class DemoDevices: Service, Sendable {
    private let siteFile: String
    private let logLevel: String
    private let processes = NIOLockedValueBox<[String: Process]>([:])

    init(siteFile: String, logLevel: String) {
        self.siteFile = siteFile
        self.logLevel = logLevel
    }

    /// The admin address of device `name` (lb1 on 9101, lb2 on 9102).
    static func adminAddress(of name: String) -> String {
        "127.0.0.1:\(9100 + (DemoSite.devices.firstIndex(of: name) ?? 0) + 1)"
    }

    /// Starts device `name` unless it runs; false when there is no such device.
    @discardableResult
    func start(_ name: String) throws -> Bool {
        guard DemoSite.devices.contains(name) else { return false }
        if self.processes.withLockedValue({ $0[name]?.isRunning }) == true { return true }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [
            "device", "--config", self.siteFile, "--name", name, "--admin", Self.adminAddress(of: name),
            "--drain-timeout", "2s", "--log-level", self.logLevel, "--loopback-failover", "\(DemoSite.vrrpPort)",
        ]
        try process.run()
        self.processes.withLockedValue { $0[name] = process }
        return true
    }

    /// Stops device `name` as an operator would (SIGTERM: it resigns, then drains); false when it is unknown.
    @discardableResult
    func stop(_ name: String) -> Bool {
        guard DemoSite.devices.contains(name) else { return false }
        if let process = self.processes.withLockedValue({ $0[name] }), process.isRunning {
            process.terminate()
        }
        return true
    }

    func run() async throws {
        for name in DemoSite.devices { try self.start(name) }
        try? await gracefulShutdown()
        for name in DemoSite.devices { self.stop(name) }
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while self.processes.withLockedValue({ $0.values.contains { $0.isRunning } }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
