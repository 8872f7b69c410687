#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks on addresses as written in configuration: IP literals, prefixes and DNS names.
public enum AddressText {
    /// Whether `text` is a dotted-quad IPv4 address.
    public static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    /// Whether `text` is an IPv6 address (no brackets, no zone).
    public static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }

    /// Whether `text` is a DNS host name: dot-separated labels of letters, digits and hyphens, the last one not all
    /// digits (so a mistyped IPv4 address such as `10.0.0.999` is not taken for a name).
    public static func isHostName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let last = labels.last, !last.allSatisfy(\.isNumber) else { return false }
        return labels.allSatisfy { label in
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-" else { return false }
            return label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// Splits `192.0.2.10/24` into address and prefix length; without a slash the prefix is the full length.
    ///
    /// - Parameters:
    ///   - text: the address with optional `/prefix`.
    ///   - family: 4 or 6.
    /// - Returns: address and prefix, or `nil` when either is malformed or the prefix is out of range.
    public static func cidr(_ text: String, family: Int) -> (address: String, prefix: Int)? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let address = String(parts[0])
        let maximum = family == 4 ? 32 : 128
        guard family == 4 ? self.isIPv4(address) : self.isIPv6(address) else { return nil }
        guard parts.count == 2 else { return (address, maximum) }
        guard let prefix = Int(parts[1]), (0...maximum).contains(prefix) else { return nil }
        return (address, prefix)
    }

    /// Whether `text` is a usable Linux interface name (1–15 bytes, no slash or space).
    public static func isInterfaceName(_ text: String) -> Bool {
        (1...15).contains(text.utf8.count) && !text.contains { $0 == "/" || $0.isWhitespace || $0 == ":" }
    }
}
