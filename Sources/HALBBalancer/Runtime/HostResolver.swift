import Dispatch
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Resolves a gateway's host name for UDP, where a flow needs the gateway's address before its first datagram.
/// TCP gateways are resolved by each connect instead.
enum HostResolver {
    /// The first address of `host` in the family asked for (IPv6 when `ipv6`), or `nil` when it does not resolve
    /// within `timeout`. `getaddrinfo` runs on a Dispatch thread, so neither the event loops nor the caller wait longer.
    static func resolve(_ host: String, port: Int, ipv6: Bool, timeout: Duration = .seconds(2)) async -> SocketAddress?
    {
        await withTaskGroup(of: SocketAddress?.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().async {
                        continuation.resume(returning: Self.lookUp(host, port: port, ipv6: ipv6))
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private static func lookUp(_ host: String, port: Int, ipv6: Bool) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_family = ipv6 ? AF_INET6 : AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let address = first.pointee.ai_addr else { return nil }
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                SocketAddress($0.pointee, host: host)
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                SocketAddress($0.pointee, host: host)
            }
        default:
            return nil
        }
    }
}
