/// VRRP settings of a virtual server (used by failover).
public struct VRRPSettings: Sendable, Hashable {
    /// Default advertisement interval.
    public static let defaultAdvertInterval = HALBDuration.milliseconds(100)

    /// Virtual router id (1–255), unique per L2 segment; `nil` means the virtual server's 1-based position.
    public var routerID: Int?
    /// How often the primary advertises (10 ms – 40.95 s, in centiseconds on the wire).
    public var advertInterval: HALBDuration
    /// Whether a higher-priority device takes the VIP back from a lower-priority primary.
    public var preempt: Bool
    /// How long a device waits after start before preempting.
    public var preemptDelay: HALBDuration
    /// Send advertisements to the other devices' addresses instead of the multicast group (networks without
    /// multicast).
    public var unicast: Bool
    /// Whose advertisements the virtual router obeys: only the virtual server's devices (the default), or any host
    /// on the segment (mixed set-ups with keepalived or routers the site does not list).
    public var acceptFrom: VRRPAcceptPolicy

    /// Creates VRRP settings.
    public init(
        routerID: Int? = nil,
        advertInterval: HALBDuration = VRRPSettings.defaultAdvertInterval,
        preempt: Bool = true,
        preemptDelay: HALBDuration = .seconds(0),
        unicast: Bool = false,
        acceptFrom: VRRPAcceptPolicy = .peers
    ) {
        self.routerID = routerID
        self.advertInterval = advertInterval
        self.preempt = preempt
        self.preemptDelay = preemptDelay
        self.unicast = unicast
        self.acceptFrom = acceptFrom
    }
}
