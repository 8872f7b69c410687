import InMemoryLogging
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import HALBFailover

/// Hands the router's receive callback to the test, and sends nothing anywhere.
private final class InjectingTransport: VRRPTransport {
    let sourceAddress = VRRPAddress("127.0.0.1")!
    let receive: @Sendable (VRRPReceived) -> Void

    init(receive: @escaping @Sendable (VRRPReceived) -> Void) {
        self.receive = receive
    }

    func send(_ advertisement: VRRPAdvertisement, to peers: [VRRPAddress]) {}

    func close() async {}
}

/// Does nothing to any address.
private struct InertAddressManager: VirtualAddressManager {
    func add(
        _ address: VRRPAddress,
        prefix: Int,
        to interface: NetworkInterface,
        lifetime: Duration
    ) throws(FailoverError) {}
    func remove(_ address: VRRPAddress, prefix: Int, from interface: NetworkInterface) throws(FailoverError) {}
    func announce(_ address: VRRPAddress, on interface: NetworkInterface) throws(FailoverError) {}
}

/// Which senders' advertisements reach the election, on loopback with fakes (no root needed).
@Suite(.timeLimit(.minutes(2))) struct VRRPRouterSenderTests {
    private static let vip = VRRPAddress("192.0.2.100")!
    private static let peer = VRRPAddress("192.0.2.12")!
    private static let stranger = VRRPAddress("192.0.2.66")!

    private func configuration(acceptedSenders: Set<VRRPAddress>?) -> VirtualRouterConfiguration {
        VirtualRouterConfiguration(
            name: "web",
            interface: "lo",
            vrid: 51,
            priority: 200,
            // 40 s: no instance becomes master (Master_Down_Interval) while a test runs, however loaded the machine.
            advertInterval: 4000,
            preempt: true,
            preemptDelay: .zero,
            addresses: [.init(address: Self.vip, prefix: 24)],
            acceptedSenders: acceptedSenders
        )
    }

    private func advertisement(priority: UInt8 = 254, addresses: [VRRPAddress] = [vip]) -> VRRPAdvertisement {
        VRRPAdvertisement(vrid: 51, priority: priority, maxAdvertInterval: 4000, addresses: addresses)
    }

    private func withRouter(
        _ configuration: VirtualRouterConfiguration,
        _ body: (VRRPRouter, @Sendable (VRRPReceived) -> Void, TestMetrics, InMemoryLogHandler) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let metrics = TestMetrics()
        let logs = InMemoryLogHandler()
        let transport = NIOLockedValueBox<InjectingTransport?>(nil)
        let router = try await VRRPRouter.start(
            [configuration],
            eventLoop: group.next(),
            logger: Logger(label: "test", factory: { _ in logs }),
            addressManager: InertAddressManager(),
            metricsFactory: metrics
        ) { _, _, receive in
            let injecting = InjectingTransport(receive: receive)
            transport.withLockedValue { $0 = injecting }
            return injecting
        }
        let receive = try #require(transport.withLockedValue { $0 }).receive
        do {
            try await body(router, receive, metrics, logs)
        } catch {
            await router.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await router.shutdown()
        try await group.shutdownGracefully()
    }

    private func dropped(_ reason: String, _ metrics: TestMetrics) throws -> Int64 {
        try metrics.expectCounter("halb_vrrp_packets_dropped_total", [("reason", reason)]).totalValue
    }

    private func lines(_ message: String, _ logs: InMemoryLogHandler) -> [InMemoryLogHandler.Entry] {
        logs.entries.filter { "\($0.message)" == message }
    }

    @Test func anAdvertisementFromAHostThatIsNotAPeerIsDroppedCountedAndLoggedOnceASecond() async throws {
        let configuration = self.configuration(acceptedSenders: [VRRPAddress("127.0.0.1")!, Self.peer])
        try await self.withRouter(configuration) { router, receive, metrics, logs in
            // A flood of priority-254 adverts from a stranger: none reaches the state machine.
            for _ in 0..<2000 {
                receive(.advertisement(self.advertisement(), from: Self.stranger))
            }
            var status = try #require(await router.status().first)
            #expect(status.state == "backup")
            #expect(status.master == nil)
            #expect(status.advertisementsReceived == 0)
            #expect(try self.dropped("unknown_sender", metrics) == 2000)
            // One line for the first packet (a slow machine may need a second one), not one per packet.
            let warnings = self.lines(
                "VRRP advertisement from a host that is not a device of the virtual server dropped",
                logs
            )
            #expect((1...3).contains(warnings.count), "\(warnings.count) lines")
            #expect(warnings.first?.metadata["vrrp.sender"] == "192.0.2.66")
            #expect(warnings.first?.metadata["vrrp.accepted"] == "127.0.0.1, 192.0.2.12")
            #expect(warnings.first?.metadata["log.suppressed"] == "0")

            // The peer's advert is accepted: it is the master now.
            receive(.advertisement(self.advertisement(), from: Self.peer))
            status = try #require(await router.status().first)
            #expect(status.advertisementsReceived == 1)
            #expect(status.master == "192.0.2.12")
            #expect(try self.dropped("unknown_sender", metrics) == 2000)
        }
    }

    @Test func withoutAcceptedSendersAnyHostTakesPart() async throws {
        try await self.withRouter(self.configuration(acceptedSenders: nil)) { router, receive, metrics, _ in
            receive(.advertisement(self.advertisement(), from: Self.stranger))
            let status = try #require(await router.status().first)
            #expect(status.advertisementsReceived == 1)
            #expect(status.master == "192.0.2.66")
            #expect(try self.dropped("unknown_sender", metrics) == 0)
        }
    }

    @Test func advertisementsWithOtherAddressesAreCountedAndLoggedOnceASecond() async throws {
        try await self.withRouter(self.configuration(acceptedSenders: nil)) { router, receive, metrics, logs in
            let other = self.advertisement(priority: 100, addresses: [VRRPAddress("192.0.2.200")!])
            for _ in 0..<2000 {
                receive(.advertisement(other, from: Self.peer))
            }
            let status = try #require(await router.status().first)
            #expect(status.advertisementsReceived == 0)
            #expect(try self.dropped("address_list", metrics) == 2000)
            let warnings = self.lines("VRRP advertisement with other addresses dropped", logs)
            #expect((1...3).contains(warnings.count), "\(warnings.count) lines")
        }
    }

    @Test func packetsThatFailTheChecksAreCountedAsInvalid() async throws {
        try await self.withRouter(self.configuration(acceptedSenders: nil)) { router, receive, metrics, _ in
            for _ in 0..<3 {
                receive(.dropped(.hopLimit(64, ipv6: false), from: Self.peer))
            }
            let status = try #require(await router.status().first)
            let invalid = try self.dropped("invalid", metrics)
            #expect(status.advertisementsReceived == 0)
            #expect(invalid == 3)
        }
    }

    @Test func aDeviceWhoseSourceAddressTheSiteDoesNotListSaysSoAtStart() async throws {
        // The site lists 192.0.2.11 for this device, but it advertises from 127.0.0.1: its peers would drop it.
        let configuration = self.configuration(acceptedSenders: [VRRPAddress("192.0.2.11")!, Self.peer])
        try await self.withRouter(configuration) { _, _, _, logs in
            let warning = self.lines(
                "VRRP advertisements go out from an address the site does not list for this device",
                logs
            )
            #expect(warning.count == 1)
            #expect(warning.first?.metadata["vrrp.source"] == "127.0.0.1")
        }
        try await self.withRouter(self.configuration(acceptedSenders: [VRRPAddress("127.0.0.1")!])) { _, _, _, logs in
            #expect(!logs.entries.contains { "\($0.message)".contains("does not list") })
        }
    }
}
