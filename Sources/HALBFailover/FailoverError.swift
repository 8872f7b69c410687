#if canImport(Glibc)
import Glibc
#endif

/// Why failover could not do something on this host. The description names the interface or address.
public struct FailoverError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case noInterface(String)
        case noIPv4Address(String)
        case noIPv6LinkLocalAddress(String)
        case system(operation: String, errno: Int32)
        case netlink(operation: String, errno: Int32)
    }

    private let base: Base

    /// There is no interface of that name.
    public static func noInterface(_ name: String) -> Self { Self(base: .noInterface(name)) }
    /// The interface has no IPv4 address to send advertisements from.
    public static func noIPv4Address(_ name: String) -> Self { Self(base: .noIPv4Address(name)) }
    /// The interface has no link-local IPv6 address to send IPv6 advertisements from.
    public static func noIPv6LinkLocalAddress(_ name: String) -> Self { Self(base: .noIPv6LinkLocalAddress(name)) }
    /// A system call failed.
    public static func system(_ operation: String, errno: Int32) -> Self {
        Self(base: .system(operation: operation, errno: errno))
    }
    /// The kernel refused a netlink request.
    public static func netlink(_ operation: String, errno: Int32) -> Self {
        Self(base: .netlink(operation: operation, errno: errno))
    }

    public var description: String {
        switch self.base {
        case .noInterface(let name):
            "no interface named \(name)"
        case .noIPv4Address(let name):
            "interface \(name) has no IPv4 address to send VRRP advertisements from"
        case .noIPv6LinkLocalAddress(let name):
            "interface \(name) has no link-local IPv6 address to send VRRP advertisements from"
        case .system(let operation, let code):
            "\(operation): \(String(cString: strerror(code)))"
        case .netlink(let operation, let code):
            "\(operation): \(String(cString: strerror(code)))"
        }
    }
}
