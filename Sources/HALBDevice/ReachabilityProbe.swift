import HALBCore
import HALBWire
import NIOCore
import NIOPosix

/// Carries out the console's "ping host" checks: opens a TCP connection to the address and port, and closes it.
///
/// Only hosts of the device's own site are tried (its gateways, devices and VIPs), whoever asks: a console, even a
/// false one, cannot turn a device into a port scanner.
enum ReachabilityProbe {
    /// How long a connection may take to open.
    static let connectTimeout: TimeAmount = .seconds(3)

    static func check(
        _ check: ReachabilityCheck,
        site: Site?,
        group: any EventLoopGroup
    ) async -> ReachabilityAnswer {
        guard let site, site.hostAddresses.contains(check.address), (1...65535).contains(check.port) else {
            return ReachabilityAnswer(
                id: check.id,
                reachable: false,
                error: "\(check.address) port \(check.port) is not a host of this device's site; not tried"
            )
        }
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(Self.connectTimeout)
                .connect(host: check.address, port: check.port)
                .get()
            let elapsed = clock.now - start
            try? await channel.close()
            let milliseconds = Int(
                elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
            )
            return ReachabilityAnswer(id: check.id, reachable: true, milliseconds: milliseconds)
        } catch let error as ChannelError where error == .connectTimeout(Self.connectTimeout) {
            return ReachabilityAnswer(id: check.id, reachable: false, error: "no answer within 3 s")
        } catch let error as NIOConnectionError {
            let reasons = error.connectionErrors.map { "\($0.error)" }
            return ReachabilityAnswer(
                id: check.id,
                reachable: false,
                error: reasons.first.map(Self.describe) ?? "cannot connect"
            )
        } catch {
            return ReachabilityAnswer(id: check.id, reachable: false, error: Self.describe("\(error)"))
        }
    }

    /// "connection refused" rather than NIO's `connect(descriptor:addr:size:): Connection refused (errno: 111)`.
    private static func describe(_ text: String) -> String {
        let lowered = text.lowercased()
        if lowered.contains("refused") { return "connection refused" }
        if lowered.contains("unreachable") { return "host unreachable" }
        if lowered.contains("timeout") || lowered.contains("timed out") { return "no answer within 3 s" }
        return String(text.prefix(200))
    }
}
