import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import HALBFailover

#if canImport(Glibc)
import Glibc
#endif

/// Records what the router sends.
private final class RecordingTransport: VRRPTransport {
    let sourceAddress = VRRPAddress("127.0.0.1")!
    let sent = NIOLockedValueBox<[VRRPAdvertisement]>([])
    let closed = NIOLockedValueBox(false)

    func send(_ advertisement: VRRPAdvertisement, to peers: [VRRPAddress]) {
        self.sent.withLockedValue { $0.append(advertisement) }
    }

    func close() async {
        self.closed.withLockedValue { $0 = true }
    }
}

/// Records address changes instead of making them.
private final class RecordingAddressManager: VirtualAddressManager {
    let log = NIOLockedValueBox<[String]>([])

    func add(
        _ address: VRRPAddress,
        prefix: Int,
        to interface: NetworkInterface,
        lifetime: Duration
    ) throws(FailoverError) {
        self.log.withLockedValue { $0.append("add \(address)") }
    }

    func remove(_ address: VRRPAddress, prefix: Int, from interface: NetworkInterface) throws(FailoverError) {
        self.log.withLockedValue { $0.append("remove \(address)") }
    }

    func announce(_ address: VRRPAddress, on interface: NetworkInterface) throws(FailoverError) {
        self.log.withLockedValue { $0.append("announce \(address)") }
    }
}

/// The router's reconfiguration on reload, on loopback with recording fakes (no root needed).
@Suite(.timeLimit(.minutes(2))) struct VRRPRouterTests {
    private func configuration(
        _ name: String,
        vip: String,
        priority: UInt8 = 200,
        vrid: UInt8 = 1
    ) -> VirtualRouterConfiguration {
        VirtualRouterConfiguration(
            name: name,
            interface: "lo",
            vrid: vrid,
            priority: priority,
            // 40 s: no instance becomes master (Master_Down_Interval) while a test runs, however loaded the machine.
            advertInterval: 4000,
            preempt: true,
            preemptDelay: .zero,
            addresses: [.init(address: VRRPAddress(vip)!, prefix: vip.contains(":") ? 64 : 24)]
        )
    }

    private func withRouter(
        _ configurations: [VirtualRouterConfiguration],
        _ body: (VRRPRouter, RecordingAddressManager, NIOLockedValueBox<[TransportKey: RecordingTransport]>)
            async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let addresses = RecordingAddressManager()
        let transports = NIOLockedValueBox<[TransportKey: RecordingTransport]>([:])
        let router = try await VRRPRouter.start(
            configurations,
            eventLoop: group.next(),
            logger: Logger(label: "test"),
            addressManager: addresses
        ) { interface, isIPv6, _ in
            let transport = RecordingTransport()
            transports.withLockedValue { $0[TransportKey(interface: interface.name, isIPv6: isIPv6)] = transport }
            return transport
        }
        do {
            try await body(router, addresses, transports)
        } catch {
            await router.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await router.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func eachAddressFamilyRunsItsOwnVirtualRouterOnItsOwnSocket() async throws {
        let web = self.configuration("web", vip: "192.0.2.100")
        let web6 = self.configuration("web", vip: "2001:db8::100")
        try await self.withRouter([web, web6]) { router, addresses, transports in
            let status = await router.status()
            #expect(status.map(\.family) == ["ipv4", "ipv6"])
            #expect(status.allSatisfy { $0.state == "backup" && $0.name == "web" && $0.vrid == 1 })
            #expect(transports.withLockedValue { $0.keys.map(\.isIPv6).sorted { !$0 && $1 } } == [false, true])
            // Stale copies of both VIPs were removed before the instances started.
            #expect(addresses.log.withLockedValue { $0 }.sorted() == ["remove 192.0.2.100", "remove 2001:db8::100"])
            // Tracking lowers both families of the virtual server.
            router.setPriority(1, of: "web")
            #expect(await router.status().map(\.priority) == [1, 1])
        }
    }

    @Test func anUpdateKeepsUnchangedRoutersRestartsChangedOnesAndStopsRemovedOnes() async throws {
        let web = self.configuration("web", vip: "192.0.2.100")
        let mail = self.configuration("mail", vip: "192.0.2.101", vrid: 2)
        try await self.withRouter([web, mail]) { router, addresses, transports in
            addresses.log.withLockedValue { $0 = [] }

            // A new priority only: the running instance takes it, nothing restarts.
            var lower = web
            lower.priority = 150
            try await router.update([lower, mail])
            var status = await router.status()
            #expect(status.map(\.transitions) == [1, 1])  // initialize → backup only
            #expect(status.first { $0.name == "web" }?.configuredPriority == 150)
            #expect(addresses.log.withLockedValue { $0 }.isEmpty)

            // A new VIP restarts web (stale copy removed); mail is gone: it stops; a new one starts at priority 1.
            let moved = self.configuration("web", vip: "192.0.2.110", priority: 150)
            let news = self.configuration("news", vip: "192.0.2.120", vrid: 3)
            try await router.update([moved, news]) { $0 == "news" ? 1 : nil }
            status = await router.status()
            #expect(status.map(\.name) == ["news", "web"])
            #expect(status.map(\.state) == ["backup", "backup"])
            #expect(status.first { $0.name == "news" }?.priority == 1)
            #expect(status.first { $0.name == "news" }?.configuredPriority == 200)
            #expect(Set(addresses.log.withLockedValue { $0 }) == ["remove 192.0.2.110", "remove 192.0.2.120"])

            // Nothing left: the socket closes.
            try await router.update([])
            #expect(await router.status().isEmpty)
            #expect(transports.withLockedValue { $0.values.allSatisfy { $0.closed.withLockedValue { $0 } } })
        }
    }

    @Test func aMasterAnnouncesItsAddressesAgainWhileItStaysMaster() async throws {
        // A host's cache won by another device that yielded without this master hearing of it comes back at the
        // next refresh: at the transition, after half a second, then every 2 s.
        let owner = self.configuration("web", vip: "192.0.2.100", priority: 255)
        try await self.withRouter([owner]) { router, addresses, _ in
            #expect(await router.status().first?.state == "master")
            let announcements = { addresses.log.withLockedValue { $0 }.filter { $0 == "announce 192.0.2.100" }.count }
            // The refresh runs on the router's real timers: poll for it, within a bound.
            let deadline = ContinuousClock.now + .seconds(20)
            while announcements() < 4, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(announcements() >= 4, "\(addresses.log.withLockedValue { $0 })")
        }
    }

    @Test func aMasterThatIsRemovedResignsAndReleasesItsAddresses() async throws {
        let owner = self.configuration("web", vip: "192.0.2.100", priority: 255)
        try await self.withRouter([owner]) { router, addresses, transports in
            #expect(await router.status().first?.state == "master")
            #expect(addresses.log.withLockedValue { $0 }.contains("add 192.0.2.100"))
            try await router.update([])
            let sent = transports.withLockedValue { $0.values.flatMap { $0.sent.withLockedValue { $0 } } }
            #expect(sent.last?.priority == 0)
            #expect(addresses.log.withLockedValue { $0 }.last == "remove 192.0.2.100")
        }
    }

    @Test func controlMessagesCarryTheHopLimitAndDestination() {
        let hopLimit = ControlMessages.encode(
            level: Int32(IPPROTO_IPV6),
            type: IPV6_HOPLIMIT,
            data: withUnsafeBytes(of: Int32(255)) { Array($0) }
        )
        let destination = VRRPAddress("ff02::12")!
        let packetInfo = ControlMessages.encode(
            level: Int32(IPPROTO_IPV6),
            type: IPV6_PKTINFO,
            data: destination.bytes + withUnsafeBytes(of: UInt32(7)) { Array($0) }
        )
        #expect(hopLimit.count % MemoryLayout<Int>.size == 0)
        let decoded = ControlMessages.decode(hopLimit + packetInfo)
        #expect(decoded.hopLimit == 255)
        #expect(decoded.destination == destination)
        // Truncated or empty control data yields nothing, without crashing.
        #expect(ControlMessages.decode(Array((hopLimit + packetInfo).prefix(30))).destination == nil)
        #expect(ControlMessages.decode([]).hopLimit == nil)
        #expect(ControlMessages.decode([UInt8](repeating: 0xFF, count: 40)).hopLimit == nil)
        #expect(
            ControlMessages.decode(
                [0xF0] + [UInt8](repeating: 0xFF, count: 6) + [0x7F] + [UInt8](repeating: 0, count: 32)
            ).hopLimit == nil
        )
    }
}
