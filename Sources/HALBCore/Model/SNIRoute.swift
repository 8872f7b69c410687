/// A passthrough `ssl` payload's route for one TLS server name (SNI): clients that ask for `serverName` go to
/// `gateways`.
public struct SNIRoute: Sendable, Hashable {
    /// A host name (`desktop.example.com`), or a wildcard (`*.example.com`) for every name under a domain.
    public var serverName: String
    /// The gateways for it, by name.
    public var gateways: [String]

    public init(serverName: String, gateways: [String]) {
        self.serverName = serverName
        self.gateways = gateways
    }
}
