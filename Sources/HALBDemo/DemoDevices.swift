import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The demo's two devices, each a `halb device` child process managed by the demo's console, with failover over
/// UDP on loopback: the primary listens on the VIP, the secondary takes over when the primary stops.
public final class DemoDevices: Service, Sendable {
    private let stateDirectory: URL
    private let logLevel: String
    /// The console's URL, once it listens.
    private let consoleURL: AsyncStream<String>
    private let state = NIOLockedValueBox<
        (console: String?, joinTokens: [String: String], processes: [String: Process])
    >((nil, [:], [:]))

    /// - Parameters:
    ///   - stateDirectory: where each device keeps its credential and cached configuration (a folder per device).
    ///   - joinTokens: each device's join token, used on its first start.
    ///   - consoleURL: yields the console's URL once it listens; the devices start then.
    public init(stateDirectory: URL, joinTokens: [String: String], consoleURL: AsyncStream<String>, logLevel: String) {
        self.stateDirectory = stateDirectory
        self.logLevel = logLevel
        self.consoleURL = consoleURL
        self.state.withLockedValue { $0.joinTokens = joinTokens }
    }

    /// The admin address of device `name` (lb1 on 9101, lb2 on 9102).
    public static func adminAddress(of name: String) -> String {
        "127.0.0.1:\(9100 + (DemoSite.devices.firstIndex(of: name) ?? 0) + 1)"
    }

    /// Starts device `name` unless it runs; false when there is no such device (or the console does not listen yet).
    @discardableResult
    public func start(_ name: String) throws -> Bool {
        guard DemoSite.devices.contains(name) else { return false }
        try self.state.withLockedValue { state in
            guard let console = state.console, state.processes[name]?.isRunning != true else { return }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = [
                "device", "--console", console, "--name", name,
                "--state", self.stateDirectory.appendingPathComponent(name).path,
                "--admin", Self.adminAddress(of: name), "--drain-timeout", "2s", "--log-level", self.logLevel,
                "--loopback-failover", "\(DemoSite.vrrpPort)",
            ]
            // The join token enrols the device the first time; after that it has its credential.
            if let token = state.joinTokens[name] {
                process.environment = ProcessInfo.processInfo.environment.merging(["HALB_JOIN_TOKEN": token]) { $1 }
            }
            try process.run()
            state.joinTokens[name] = nil
            state.processes[name] = process
        }
        return true
    }

    /// Stops device `name` as an operator would (SIGTERM: it resigns, then drains); false when it is unknown.
    @discardableResult
    public func stop(_ name: String) -> Bool {
        guard DemoSite.devices.contains(name) else { return false }
        if let process = self.state.withLockedValue({ $0.processes[name] }), process.isRunning {
            process.terminate()
        }
        return true
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            for await url in self.consoleURL {
                self.state.withLockedValue { $0.console = url }
                break
            }
        }
        guard !Task.isShuttingDownGracefully else { return }
        for name in DemoSite.devices { try self.start(name) }
        try? await gracefulShutdown()
        for name in DemoSite.devices { self.stop(name) }
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while self.state.withLockedValue({ $0.processes.values.contains { $0.isRunning } }),
            ContinuousClock.now < deadline
        {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
