import HALBCore
import Testing

@testable import HALBBalancer

/// What an apply opens, keeps and closes, decided without a socket.
@Suite struct ListenerPlanTests {
    static func listener(_ host: String, _ port: Int, vs: String = "web") -> ListenerConfiguration {
        ListenerConfiguration(
            host: host,
            port: port,
            route: RouteConfiguration(virtualServer: vs, payload: .gateway, members: [])
        )
    }

    static func udp(_ host: String, _ port: Int, vs: String = "web") -> UDPListenerConfiguration {
        UDPListenerConfiguration(
            host: host,
            port: port,
            virtualServer: vs,
            members: []
        )
    }

    @Test func newListenersOpenKeptOnesStayAndRemovedOnesClose() {
        let configuration = BalancerConfiguration(
            siteName: "lab",
            version: 2,
            listeners: [Self.listener("192.0.2.10", 80), Self.listener("192.0.2.10", 443)],
            udpListeners: [Self.udp("192.0.2.10", 3391)]
        )
        let plan = ListenerPlan(
            bound: ["192.0.2.10:80", "192.0.2.10:8080"],
            boundUDP: ["udp 192.0.2.10:3390"],
            configuration: configuration
        )
        #expect(plan.open.map(\.key) == ["192.0.2.10:443"])
        #expect(plan.keep == ["192.0.2.10:80"])
        #expect(plan.close == ["192.0.2.10:8080"])
        #expect(plan.openUDP.map(\.key) == ["udp 192.0.2.10:3391"])
        #expect(plan.keepUDP == [])
        #expect(plan.closeUDP == ["udp 192.0.2.10:3390"])
    }

    @Test func aClosedVirtualServerOpensNothingAndClosesWhatItHad() {
        var configuration = BalancerConfiguration(
            siteName: "lab",
            version: 2,
            listeners: [Self.listener("192.0.2.10", 80), Self.listener("192.0.2.20", 80, vs: "rdp")],
            udpListeners: [Self.udp("192.0.2.20", 3391, vs: "rdp")]
        )
        configuration.closedVirtualServers = ["rdp"]
        let plan = ListenerPlan(
            bound: ["192.0.2.20:80"],
            boundUDP: ["udp 192.0.2.20:3391"],
            configuration: configuration
        )
        #expect(plan.open.map(\.key) == ["192.0.2.10:80"])
        #expect(plan.keep == [])
        #expect(plan.close == ["192.0.2.20:80"])
        #expect(plan.openUDP.isEmpty)
        #expect(plan.closeUDP == ["udp 192.0.2.20:3391"])
    }
}
