/// A device's place in a virtual server: its name and, optionally, an explicit VRRP priority.
public struct DeviceAssignment: Sendable, Hashable {
    /// The device's name.
    public var name: String
    /// Explicit VRRP priority (1–255); when `nil` the position in the list decides.
    public var priority: Int?

    /// Creates an assignment.
    public init(name: String, priority: Int? = nil) {
        self.name = name
        self.priority = priority
    }
}
