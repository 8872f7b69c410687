import NIOCore

#if canImport(Glibc)
import Glibc
#endif

extension SocketAddress {
    /// The IP address in network byte order: 4 bytes for IPv4, 16 for IPv6; `nil` for other families.
    var ipBytes: [UInt8]? {
        guard let ip = self.ipAddress else { return nil }
        switch self {
        case .v4:
            var bytes = [UInt8](repeating: 0, count: 4)
            return inet_pton(AF_INET, ip, &bytes) == 1 ? bytes : nil
        case .v6:
            var bytes = [UInt8](repeating: 0, count: 16)
            return inet_pton(AF_INET6, ip, &bytes) == 1 ? bytes : nil
        default:
            return nil
        }
    }
}

extension SocketAddress {
    /// The address as logs and status pages show it: `192.0.2.1:443`, `[2001:db8::1]:443` (SwiftNIO's own
    /// description reads `[IPv4]192.0.2.1/192.0.2.1:443`).
    var hostPort: String {
        guard let ip = self.ipAddress, let port = self.port else { return "\(self)" }
        return Self.hostPort(ip, port)
    }

    /// `host:port`, with an IPv6 address in brackets.
    static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
