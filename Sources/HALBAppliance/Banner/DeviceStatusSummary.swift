import Foundation

/// The little of a device's admin `/status` (JSON) that the console banner shows: its applied configuration and
/// its failover roles.
public struct DeviceStatusSummary: Sendable, Hashable, Decodable {
    /// The device's name.
    public var device: String
    /// The software version it runs.
    public var version: String?
    /// The applied configuration: site and version.
    public var configuration: Configuration?
    /// Its VRRP instances, when it runs failover.
    public var failover: [Router]

    /// The applied configuration.
    public struct Configuration: Sendable, Hashable, Decodable {
        /// The site's name.
        public var site: String
        /// The configuration version.
        public var version: Int

        /// Creates a configuration summary.
        public init(site: String, version: Int) {
            self.site = site
            self.version = version
        }
    }

    /// One VRRP instance.
    public struct Router: Sendable, Hashable, Decodable {
        /// The virtual server.
        public var name: String
        /// `ipv4` or `ipv6`.
        public var family: String
        /// `MASTER`, `BACKUP`, …
        public var state: String

        /// Creates an instance summary.
        public init(name: String, family: String, state: String) {
            self.name = name
            self.family = family
            self.state = state
        }
    }

    private struct Balancer: Decodable {
        var configuration: Configuration?
    }

    private enum CodingKeys: String, CodingKey {
        case device, version, balancer, failover
    }

    /// The largest `/status` body read.
    public static let maximumBytes = 1 << 20

    /// Reads a `/status` body.
    ///
    /// - Throws: a `DecodingError` when it is not such JSON.
    public static func decode(_ data: Data) throws -> DeviceStatusSummary {
        try JSONDecoder().decode(DeviceStatusSummary.self, from: data)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.device = try container.decode(String.self, forKey: .device)
        self.version = try container.decodeIfPresent(String.self, forKey: .version)
        self.configuration = try container.decodeIfPresent(Balancer.self, forKey: .balancer)?.configuration
        self.failover = try container.decodeIfPresent([Router].self, forKey: .failover) ?? []
    }

    /// Creates a summary (for tests and other sources).
    public init(device: String, version: String?, configuration: Configuration?, failover: [Router]) {
        self.device = device
        self.version = version
        self.configuration = configuration
        self.failover = failover
    }
}
