/// A HALB site: the gateways it balances, the devices that balance them and the virtual servers that tie them together.
///
/// A site is a plain value. It is read from YAML or JSON by ``SiteReader``, checked by ``SiteValidator`` and written
/// back by ``SiteWriter``; nothing in it performs I/O.
public struct Site: Sendable, Hashable {
    /// The site's name, shown in logs and status.
    public var name: String
    /// The configuration version: a monotonic integer stamped by the console, or written by hand in a file.
    public var version: Int
    /// The gateways (the site's TLS/TCP front doors) that virtual servers spread connections over.
    public var gateways: [Gateway]
    /// The load-balancer devices (appliances running `halb device`).
    public var devices: [Device]
    /// The virtual servers, each with its own VIP, payloads and devices.
    public var virtualServers: [VirtualServer]

    /// Creates a site.
    public init(
        name: String,
        version: Int = 0,
        gateways: [Gateway] = [],
        devices: [Device] = [],
        virtualServers: [VirtualServer] = []
    ) {
        self.name = name
        self.version = version
        self.gateways = gateways
        self.devices = devices
        self.virtualServers = virtualServers
    }

    /// The gateway called `name`, if the site has one.
    public func gateway(named name: String) -> Gateway? { self.gateways.first { $0.name == name } }

    /// The device called `name`, if the site has one.
    public func device(named name: String) -> Device? { self.devices.first { $0.name == name } }

    /// The virtual servers that list `device` among their devices.
    public func virtualServers(assignedTo device: String) -> [VirtualServer] {
        self.virtualServers.filter { vs in vs.devices.contains { $0.name == device } }
    }
}
