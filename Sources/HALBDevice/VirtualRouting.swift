import HALBFailover

/// What the device asks of its VRRP router; ``VRRPRouter`` is the real one, tests record the calls.
public protocol VirtualRouting: Sendable {
    /// Runs `configurations` from now on (see ``VRRPRouter/update(_:initialPriority:)``).
    func update(
        _ configurations: [VirtualRouterConfiguration],
        initialPriority: @escaping @Sendable (String) -> UInt8?
    ) async throws
    /// The configurations running now.
    func configurations() async -> [VirtualRouterConfiguration]
    /// Sets the effective priority of a virtual server's routers.
    func setPriority(_ priority: UInt8, of name: String)
    /// A snapshot of every virtual router.
    func status() async -> [VirtualRouterStatus]
    /// Stops every virtual router: a master resigns.
    func shutdown() async
}

extension VRRPRouter: VirtualRouting {}

/// Starts the device's VRRP router, with no virtual router yet, on the transports and with the address manager
/// the device uses.
public typealias VirtualRouterStarter = @Sendable () async throws -> any VirtualRouting
