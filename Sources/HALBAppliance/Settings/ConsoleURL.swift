/// The console's base URL: `https://host[:port]` or `http://host[:port]`, host a DNS name, an IPv4 address or a
/// bracketed IPv6 address.
public struct ConsoleURL: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// The host: a DNS name (lower case) or an IP address, without brackets.
    public var host: String
    /// The port, when the URL gives one.
    public var port: Int?

    /// Whether the console is reached over TLS.
    public var isHTTPS: Bool { self.scheme == "https" }

    /// The port to connect to: the URL's, or 443 / 80.
    public var effectivePort: Int { self.port ?? (self.isHTTPS ? 443 : 80) }

    /// Whether the host is an IP address (then it is no TLS server name).
    public var hostIsAddress: Bool { IPAddress(self.host) != nil }

    /// `scheme://host[:port]`, an IPv6 host in brackets.
    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "\(self.scheme)://\(host)" + (self.port.map { ":\($0)" } ?? "")
    }
}
