/// Which sockets an apply opens, keeps and closes: the pure part of ``Balancer/apply(_:)``, which the actor
/// carries out (bind what opens, give what stays its new route, close what goes).
struct ListenerPlan: Equatable, Sendable {
    /// TCP listeners to bind, in configuration order.
    var open: [ListenerConfiguration] = []
    /// Bound TCP listeners that stay and take their new route.
    var keep: Set<String> = []
    /// Bound TCP listeners to close (gone from the configuration, or their virtual server closed).
    var close: Set<String> = []
    /// The same for the UDP ports.
    var openUDP: [UDPListenerConfiguration] = []
    var keepUDP: Set<String> = []
    var closeUDP: Set<String> = []

    /// - Parameters:
    ///   - bound: the keys of the TCP listeners bound now.
    ///   - boundUDP: the keys of the UDP ports bound now.
    init(bound: Set<String>, boundUDP: Set<String>, configuration: BalancerConfiguration) {
        let closed = configuration.closedVirtualServers
        var wanted: Set<String> = []
        for listener in configuration.listeners where !closed.contains(listener.route.virtualServer) {
            guard wanted.insert(listener.key).inserted else { continue }
            if bound.contains(listener.key) { self.keep.insert(listener.key) } else { self.open.append(listener) }
        }
        self.close = bound.subtracting(wanted)
        var wantedUDP: Set<String> = []
        for udp in configuration.udpListeners where !closed.contains(udp.virtualServer) {
            guard wantedUDP.insert(udp.key).inserted else { continue }
            if boundUDP.contains(udp.key) { self.keepUDP.insert(udp.key) } else { self.openUDP.append(udp) }
        }
        self.closeUDP = boundUDP.subtracting(wantedUDP)
    }
}
