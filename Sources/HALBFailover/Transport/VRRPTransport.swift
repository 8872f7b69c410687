import NIOCore

/// A received advertisement, or why a packet was dropped.
public enum VRRPReceived: Sendable {
    case advertisement(VRRPAdvertisement, from: VRRPAddress)
    case dropped(VRRPPacketError, from: VRRPAddress?)
}

/// Carries advertisements for the virtual routers of one interface.
public protocol VRRPTransport: Sendable {
    /// The address advertisements are sent from: the tie-breaker between equal priorities.
    var sourceAddress: VRRPAddress { get }
    /// Sends `advertisement` to the multicast group, or to `peers` when there are any (unicast VRRP).
    func send(_ advertisement: VRRPAdvertisement, to peers: [VRRPAddress])
    /// Stops receiving and closes the socket.
    func close() async
}
