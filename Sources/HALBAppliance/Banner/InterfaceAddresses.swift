#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The addresses of this machine's network interfaces, for the console banner.
public enum InterfaceAddresses {
    /// Every interface but loopback, in the order the kernel lists them, with its IPv4 and IPv6 addresses (IPv6
    /// link-local ones left out: they are of no use without a zone). An interface that is up but has no address
    /// yet is listed with none, so that an operator sees it waits for one; one that is down and has none is left
    /// out.
    public static func current() -> [ApplianceBanner.Interface] {
        #if canImport(Glibc) || canImport(Musl)
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var names: [String] = []
        var ipv4: [String: [String]] = [:]
        var ipv6: [String: [String]] = [:]
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0 else { continue }
            let name = String(cString: entry.pointee.ifa_name)
            let isUp = entry.pointee.ifa_flags & UInt32(IFF_UP) != 0
            if isUp, !names.contains(name) { names.append(name) }
            guard let address = entry.pointee.ifa_addr else { continue }
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                }
                if let text = Self.text(bytes) { ipv4[name, default: []].append(text) }
                if !names.contains(name) { names.append(name) }
            case AF_INET6:
                let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                }
                if bytes[0] == 0xFE, bytes[1] & 0xC0 == 0x80 { continue }
                if let text = Self.text(bytes) { ipv6[name, default: []].append(text) }
                if !names.contains(name) { names.append(name) }
            default:
                continue
            }
        }
        return names.map {
            ApplianceBanner.Interface(name: $0, addresses: ipv4[$0, default: []] + ipv6[$0, default: []])
        }
        #else
        return []
        #endif
    }

    private static func text(_ bytes: [UInt8]) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var bytes = bytes
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard inet_ntop(family, &bytes, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
