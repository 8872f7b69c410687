/// A load-balancer device: one appliance running `halb device`.
public struct Device: Sendable, Hashable {
    /// Default interface VIPs are added to.
    public static let defaultInterface = "eth0"

    /// Unique name within the site; `halb device --name` selects it.
    public var name: String
    /// Management address (where peers and the console reach it).
    public var address: String
    /// Network interface that carries the VIPs of the virtual servers this device serves.
    public var interface: String

    /// Creates a device.
    public init(name: String, address: String, interface: String = Device.defaultInterface) {
        self.name = name
        self.address = address
        self.interface = interface
    }
}
