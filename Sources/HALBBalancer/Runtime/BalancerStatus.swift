/// What a device is serving right now, for `/status` and for tests. Field names are part of the admin API.
public struct BalancerStatus: Sendable, Codable, Equatable {
    /// The applied configuration.
    public var configuration: ConfigurationStatus
    /// Listening sockets.
    public var listeners: [ListenerStatus]
    /// Virtual servers and their counters.
    public var virtualServers: [VirtualServerStatus]
    /// Gateway ports with health and counters.
    public var gateways: [GatewayStatus]

    /// The applied configuration.
    public struct ConfigurationStatus: Sendable, Codable, Equatable {
        /// The site's name.
        public var site: String
        /// The site's configuration version.
        public var version: Int
        /// How many configurations this process has applied (1 after start, +1 per reload).
        public var generation: Int
        /// When the configuration was applied (ISO 8601).
        public var appliedAt: String
    }

    /// One listening socket.
    public struct ListenerStatus: Sendable, Codable, Equatable {
        /// The virtual server.
        public var virtualServer: String
        /// The payload.
        public var payload: String
        /// The bound address and port.
        public var address: String
        /// TLS offload: the certificate served.
        public var certificate: CertificateStatus?
    }

    /// The certificate an offloading listener serves.
    public struct CertificateStatus: Sendable, Codable, Equatable {
        /// The leaf's common name, as `CN=...`.
        public var subject: String
        /// When it expires (ISO 8601).
        public var notValidAfter: String
    }

    /// One virtual server.
    public struct VirtualServerStatus: Sendable, Codable, Equatable {
        /// Its name.
        public var name: String
        /// Open client connections.
        public var activeConnections: Int
        /// The connection limit.
        public var maxConnections: Int
        /// Client connections accepted since start.
        public var acceptedConnections: Int
        /// Client connections refused at the limit.
        public var rejectedConnections: Int
        /// Client connections closed because no gateway could take them.
        public var failedConnections: Int
        /// Client connections closed because their TLS ClientHello could not be routed (SNI routing).
        public var rejectedClientHellos: Int
        /// TLS offload: client connections closed because their TLS handshake failed or timed out.
        public var failedHandshakes: Int
        /// Re-encryption: TLS handshakes with gateways that failed (the next gateway was tried).
        public var failedGatewayHandshakes: Int
        /// RDP-UDP: flows open now.
        public var udpFlows: Int
        /// RDP-UDP: new flows refused (flow table full, or no usable gateway).
        public var udpFlowsRejected: Int
    }

    /// One gateway port under one health check.
    public struct GatewayStatus: Sendable, Codable, Equatable {
        /// The gateway's name.
        public var name: String
        /// Address and port.
        public var address: String
        /// `unknown`, `up` or `down`.
        public var health: String
        /// Why it is in that state.
        public var reason: String
        /// The last check's result.
        public var lastCheck: String
        /// Open connections to it.
        public var activeConnections: Int
        /// Connections made to it since start.
        public var totalConnections: Int
        /// Failed connects.
        public var connectFailures: Int
        /// Bytes sent to it.
        public var bytesSent: Int
        /// Bytes received from it.
        public var bytesReceived: Int
    }
}
