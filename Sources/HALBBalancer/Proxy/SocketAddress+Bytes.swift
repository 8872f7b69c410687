#if canImport(Glibc)
import Glibc
#endif
import NIOCore

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
