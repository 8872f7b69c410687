/// A HALB site: the gateways it balances, the devices that balance them and the virtual servers that tie them together.
///
/// A site is a plain value. It is read from YAML or JSON by ``SiteReader``, checked by ``SiteValidator`` and written
/// back by ``SiteWriter``; nothing in it performs I/O.
public struct Site: Sendable, Hashable {
    /// The site's name, shown in logs and status.
    public var name: String
    /// The configuration version: a monotonic integer stamped by the console, or written by hand in a file.
    public var version: Int
    /// The gateways (the site's TLS/TCP front doors) that virtual servers spread connections over.
    public var gateways: [Gateway]
    /// The load-balancer devices (appliances running `halb device`).
    public var devices: [Device]
    /// The virtual servers, each with its own VIP, payloads and devices.
    public var virtualServers: [VirtualServer]

    /// Creates a site.
    public init(
        name: String,
        version: Int = 0,
        gateways: [Gateway] = [],
        devices: [Device] = [],
        virtualServers: [VirtualServer] = []
    ) {
        self.name = name
        self.version = version
        self.gateways = gateways
        self.devices = devices
        self.virtualServers = virtualServers
    }

    /// The gateway called `name`, if the site has one.
    public func gateway(named name: String) -> Gateway? { self.gateways.first { $0.name == name } }

    /// The device called `name`, if the site has one.
    public func device(named name: String) -> Device? { self.devices.first { $0.name == name } }

    /// The virtual servers that list `device` among their devices.
    public func virtualServers(assignedTo device: String) -> [VirtualServer] {
        self.virtualServers.filter { vs in vs.devices.contains { $0.name == device } }
    }
}

/// A gateway: one backend server that accepts the connections a virtual server balances.
public struct Gateway: Sendable, Hashable {
    /// Default weight of a gateway.
    public static let defaultWeight = 1

    /// Unique name within the site.
    public var name: String
    /// IP address (v4 or v6) or DNS name.
    public var address: String
    /// The port the gateway listens on for each payload.
    public var ports: GatewayPorts
    /// Relative share of new connections under weighted algorithms (1–256).
    public var weight: Int
    /// A disabled gateway gets no connections and is not health checked.
    public var enabled: Bool
    /// A draining gateway gets no new connections; its established ones finish.
    public var drain: Bool

    /// Creates a gateway.
    public init(
        name: String,
        address: String,
        ports: GatewayPorts = GatewayPorts(),
        weight: Int = Gateway.defaultWeight,
        enabled: Bool = true,
        drain: Bool = false
    ) {
        self.name = name
        self.address = address
        self.ports = ports
        self.weight = weight
        self.enabled = enabled
        self.drain = drain
    }
}

/// The port a gateway serves each payload on.
public struct GatewayPorts: Sendable, Hashable {
    /// Plain TCP port of the `gateway` payload (default 80).
    public var gateway: Int
    /// TLS port of the `ssl` payload (default 443).
    public var ssl: Int
    /// Port of the `clientManagement` payload (default 20009).
    public var clientManagement: Int
    /// UDP port of the `udp` payload; `nil`: the same port the datagram reached the VIP on.
    public var udp: Int?

    /// Creates a port set; omitted ports take the payload defaults.
    public init(
        gateway: Int = PayloadKind.gateway.defaultPort,
        ssl: Int = PayloadKind.ssl.defaultPort,
        clientManagement: Int = PayloadKind.clientManagement.defaultPort
    ) {
        self.gateway = gateway
        self.ssl = ssl
        self.clientManagement = clientManagement
    }

    /// The gateway's port for `kind`.
    public subscript(kind: PayloadKind) -> Int {
        get {
            switch kind {
            case .gateway: self.gateway
            case .ssl: self.ssl
            case .clientManagement: self.clientManagement
            }
        }
        set {
            switch kind {
            case .gateway: self.gateway = newValue
            case .ssl: self.ssl = newValue
            case .clientManagement: self.clientManagement = newValue
            }
        }
    }
}

/// The RDP-UDP payload of a virtual server: datagrams balanced per flow (client address and port), each flow
/// sticking to its gateway while it lives.
public struct UDPPayload: Sendable, Hashable {
    /// Whether devices serve it.
    public var enabled: Bool
    /// The UDP ports on the VIP.
    public var ports: [Int]
    /// The gateways, by name; empty means every gateway of the site.
    public var gateways: [String]
    /// How a new flow's gateway is picked (`leastconn` counts flows).
    public var balancing: BalancingAlgorithm
    /// A flow is forgotten after this long without a datagram in either direction.
    public var idleTimeout: HALBDuration
    /// The most flows one device keeps per port; datagrams of new flows beyond are dropped and counted.
    public var maxFlows: Int
    /// A check of the gateways' UDP port (type `udp`); `nil`: a gateway's health is that of its TCP port.
    public var healthCheck: HealthCheck?

    public init(
        enabled: Bool = true,
        ports: [Int] = [80, 443],
        gateways: [String] = [],
        balancing: BalancingAlgorithm = .leastconn,
        idleTimeout: HALBDuration = .minutes(2),
        maxFlows: Int = 100_000
    ) {
        self.enabled = enabled
        self.ports = ports
        self.gateways = gateways
        self.balancing = balancing
        self.idleTimeout = idleTimeout
        self.maxFlows = maxFlows
    }
}

/// A load-balancer device: one appliance running `halb device`.
public struct Device: Sendable, Hashable {
    /// Default interface VIPs are added to.
    public static let defaultInterface = "eth0"

    /// Unique name within the site; `halb device --name` selects it.
    public var name: String
    /// Management address (where peers and the console reach it).
    public var address: String
    /// Network interface that carries the VIPs of the virtual servers this device serves.
    public var interface: String

    /// Creates a device.
    public init(name: String, address: String, interface: String = Device.defaultInterface) {
        self.name = name
        self.address = address
        self.interface = interface
    }
}

/// A device's place in a virtual server: its name and, optionally, an explicit VRRP priority.
public struct DeviceAssignment: Sendable, Hashable {
    /// The device's name.
    public var name: String
    /// Explicit VRRP priority (1–255); when `nil` the position in the list decides.
    public var priority: Int?

    /// Creates an assignment.
    public init(name: String, priority: Int? = nil) {
        self.name = name
        self.priority = priority
    }
}

/// The kinds of TCP payload a virtual server can carry.
public enum PayloadKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Plain TCP (the RAS "LB Gateway payload").
    case gateway
    /// TLS (the RAS "LB SSL payload").
    case ssl
    /// The RAS client-management port.
    case clientManagement

    /// The port the payload listens on when none is given.
    public var defaultPort: Int {
        switch self {
        case .gateway: 80
        case .ssl: 443
        case .clientManagement: 20009
        }
    }

    public var description: String { self.rawValue }
}

/// How the `ssl` payload treats TLS.
public enum SSLMode: String, Sendable, Hashable, CaseIterable {
    /// Relay TLS bytes untouched to the gateway, which terminates TLS.
    case passthrough
    /// Terminate TLS on the device, with the payload's certificate and key; the gateways get plain TCP.
    case offload
}

/// The algorithm that picks a gateway for a new connection.
public enum BalancingAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// Weighted round robin (smooth: weights interleave rather than burst).
    case roundrobin
    /// The gateway with the fewest active connections relative to its weight (RAS's "least busy"); the default.
    case leastconn
    /// A Maglev consistent-hash table over the client's IP address.
    case sourcehash
    /// Power of two random choices: two random gateways, the less loaded wins.
    case random
}

/// Whether and how the device tells gateways the client's address with a PROXY protocol header.
public enum ProxyProtocolVersion: String, Sendable, Hashable, CaseIterable {
    /// No header.
    case off
    /// Human-readable PROXY protocol v1.
    case v1
    /// Binary PROXY protocol v2.
    case v2
}

/// The kind of active health check.
public enum HealthCheckType: String, Sendable, Hashable, CaseIterable {
    /// A TCP connect.
    case tcp
    /// An HTTP `GET` whose status is checked.
    case http
    /// A TLS handshake (certificate not verified).
    case tls
    /// A datagram to the gateway's UDP port, answered within the timeout (the `udp` payload's own check only).
    case udp
}

/// The lowest TLS version an offloading `ssl` payload accepts.
public enum TLSProtocolVersion: String, Sendable, Hashable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"
}

/// The TLS 1.2 cipher suites an offloading `ssl` payload offers (TLS 1.3 suites are fixed by the TLS library).
public enum CipherPolicy: Sendable, Hashable {
    /// ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only.
    case modern
    /// `modern`, plus ECDHE with AES-CBC (SHA-1 MAC) for older clients.
    case intermediate
    /// These suites, by their OpenSSL names, in order of preference (each one of ``knownSuites``).
    case list([String])

    /// The TLS 1.2 suites a list may name: those the TLS library (BoringSSL) offers with AES or ChaCha20, ECDHE
    /// first, then plain RSA key exchange (no forward secrecy) for old clients.
    public static let knownSuites: [String] = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA",
    ]
}

/// How an offloading `ssl` payload re-encrypts toward its gateways.
public struct GatewayTLS: Sendable, Hashable {
    /// Whether the gateway's certificate must chain to `caBundle` (or the system's roots) and name its address.
    public var verify: Bool
    /// A PEM file of the CA certificates gateways are trusted by; `nil`: the system's trust store.
    public var caBundle: String?

    public init(verify: Bool = true, caBundle: String? = nil) {
        self.verify = verify
        self.caBundle = caBundle
    }
}

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

/// One TCP payload of a virtual server.
public struct Payload: Sendable, Hashable {
    /// Which payload this is.
    public var kind: PayloadKind
    /// Whether the device serves it.
    public var enabled: Bool
    /// The port on the VIP.
    public var port: Int
    /// The gateways it spreads connections over, by name, in order. Empty means every gateway of the site.
    public var gateways: [String]
    /// The balancing algorithm.
    public var balancing: BalancingAlgorithm
    /// For `ssl` only: passthrough or offload.
    public var sslMode: SSLMode
    /// For a passthrough `ssl` payload: gateways by TLS server name; clients without a match go to `gateways`.
    public var sni: [SNIRoute]
    /// For an offloading `ssl` payload: the PEM file of the certificate chain, leaf first.
    public var certificate: String?
    /// For an offloading `ssl` payload: the PEM file of the private key.
    public var privateKey: String?
    /// For an offloading `ssl` payload of a managed device: the name of a certificate uploaded to the console
    /// (instead of `certificate` and `privateKey`). The device receives it with its configuration.
    public var managedCertificate: String?
    /// For an offloading `ssl` payload: the application protocols (ALPN) offered to clients, in order of
    /// preference, such as `http/1.1`; empty: no ALPN. The one a client picks is passed on to the gateways.
    public var alpn: [String]
    /// For an offloading `ssl` payload: the lowest TLS version accepted.
    public var minimumTLSVersion: TLSProtocolVersion
    /// For an offloading `ssl` payload: the TLS 1.2 cipher suites offered.
    public var ciphers: CipherPolicy
    /// For an offloading `ssl` payload: re-encrypt toward the gateways; `nil` sends them plain TCP.
    public var gatewayTLS: GatewayTLS?

    /// Creates a payload with the defaults of `kind`.
    public init(
        kind: PayloadKind,
        enabled: Bool = true,
        port: Int? = nil,
        gateways: [String] = [],
        balancing: BalancingAlgorithm = .leastconn,
        sslMode: SSLMode = .passthrough,
        sni: [SNIRoute] = [],
        certificate: String? = nil,
        privateKey: String? = nil,
        managedCertificate: String? = nil,
        alpn: [String] = [],
        minimumTLSVersion: TLSProtocolVersion = .v1_2,
        ciphers: CipherPolicy = .modern,
        gatewayTLS: GatewayTLS? = nil
    ) {
        self.gatewayTLS = gatewayTLS
        self.sni = sni
        self.certificate = certificate
        self.privateKey = privateKey
        self.managedCertificate = managedCertificate
        self.alpn = alpn
        self.minimumTLSVersion = minimumTLSVersion
        self.ciphers = ciphers
        self.kind = kind
        self.enabled = enabled
        self.port = port ?? kind.defaultPort
        self.gateways = gateways
        self.balancing = balancing
        self.sslMode = sslMode
    }
}

/// A virtual IP: the address clients connect to, held by the primary device.
public struct VirtualIP: Sendable, Hashable {
    /// IPv4 address with prefix length, such as `192.0.2.10/24`.
    public var ipv4: String
    /// Optional IPv6 address with prefix length, such as `2001:db8::10/64`.
    public var ipv6: String?
    /// Interface override; when `nil` each device uses its own `interface`.
    public var interface: String?

    /// Creates a VIP.
    public init(ipv4: String, ipv6: String? = nil, interface: String? = nil) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.interface = interface
    }
}

/// VRRP settings of a virtual server (used by failover).
public struct VRRPSettings: Sendable, Hashable {
    /// Default advertisement interval.
    public static let defaultAdvertInterval = HALBDuration.milliseconds(100)

    /// Virtual router id (1–255), unique per L2 segment; `nil` means the virtual server's 1-based position.
    public var routerID: Int?
    /// How often the primary advertises (10 ms – 40.95 s, in centiseconds on the wire).
    public var advertInterval: HALBDuration
    /// Whether a higher-priority device takes the VIP back from a lower-priority primary.
    public var preempt: Bool
    /// How long a device waits after start before preempting.
    public var preemptDelay: HALBDuration
    /// Send advertisements to the other devices' addresses instead of the multicast group (networks without
    /// multicast).
    public var unicast: Bool
    /// Whose advertisements the virtual router obeys: only the virtual server's devices (the default), or any host
    /// on the segment (mixed set-ups with keepalived or routers the site does not list).
    public var acceptFrom: VRRPAcceptPolicy

    /// Creates VRRP settings.
    public init(
        routerID: Int? = nil,
        advertInterval: HALBDuration = VRRPSettings.defaultAdvertInterval,
        preempt: Bool = true,
        preemptDelay: HALBDuration = .seconds(0),
        unicast: Bool = false,
        acceptFrom: VRRPAcceptPolicy = .peers
    ) {
        self.routerID = routerID
        self.advertInterval = advertInterval
        self.preempt = preempt
        self.preemptDelay = preemptDelay
        self.unicast = unicast
        self.acceptFrom = acceptFrom
    }
}

/// Whose VRRP advertisements a virtual router obeys.
public enum VRRPAcceptPolicy: String, Sendable, Hashable, CaseIterable {
    /// Only the virtual server's devices: an IPv4 advertisement must come from one of their `address`es. Any other
    /// sender is dropped before the election sees it, so a stray or hostile host cannot take the VIP.
    case peers
    /// Any host on the segment, as plain VRRP does (devices the site does not list, such as keepalived).
    case any
}

/// Active health check settings, shared by all payloads of a virtual server.
public struct HealthCheck: Sendable, Hashable {
    /// The kind of check.
    public var type: HealthCheckType
    /// Time between checks.
    public var interval: HALBDuration
    /// How long one check may take.
    public var timeout: HALBDuration
    /// Consecutive successes that bring a down gateway up.
    public var rise: Int
    /// Consecutive failures that take an up gateway down.
    public var fall: Int
    /// HTTP only: the path requested.
    public var path: String
    /// HTTP only: the status that counts as healthy; `nil` accepts 200–399.
    public var expectedStatus: Int?
    /// UDP only: the datagram sent.
    public var send: [UInt8]
    /// UDP only: bytes the answer must contain; `nil` accepts any answer.
    public var expect: [UInt8]?

    /// Creates health check settings; the defaults are those of HAProxy except for a shorter interval.
    public init(
        type: HealthCheckType = .tcp,
        interval: HALBDuration = .seconds(2),
        timeout: HALBDuration = .seconds(1),
        rise: Int = 2,
        fall: Int = 3,
        path: String = "/",
        expectedStatus: Int? = nil,
        send: [UInt8] = [],
        expect: [UInt8]? = nil
    ) {
        self.send = send
        self.expect = expect
        self.type = type
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
        self.path = path
        self.expectedStatus = expectedStatus
    }

    /// Whether an HTTP status `code` counts as healthy.
    public func accepts(status code: Int) -> Bool {
        if let expected = self.expectedStatus { return code == expected }
        return (200..<400).contains(code)
    }
}

/// Connection timeouts of a virtual server.
public struct Timeouts: Sendable, Hashable {
    /// How long a connect to a gateway may take before the next gateway is tried.
    public var connect: HALBDuration
    /// A connection is closed after this long without bytes in either direction on the client's side.
    public var clientIdle: HALBDuration
    /// A connection is closed after this long without bytes in either direction on the gateway's side.
    public var gatewayIdle: HALBDuration
    /// With SNI routing: how long a client has to send its whole TLS ClientHello.
    public var clientHello: HALBDuration

    /// Creates timeouts. Idle timeouts default to an hour, since remote-desktop sessions sit idle for long.
    public init(
        connect: HALBDuration = .seconds(5),
        clientIdle: HALBDuration = .hours(1),
        gatewayIdle: HALBDuration = .hours(1),
        clientHello: HALBDuration = .seconds(5)
    ) {
        self.clientHello = clientHello
        self.connect = connect
        self.clientIdle = clientIdle
        self.gatewayIdle = gatewayIdle
    }
}

/// How a virtual server keeps a client on one gateway.
public enum PersistenceType: String, Sendable, Hashable, CaseIterable {
    /// Every connection is balanced on its own.
    case none
    /// Connections from one client IP address go to the same gateway, on every payload of the virtual server.
    case sourceIP
}

/// Client persistence of a virtual server (sticky sessions by client address).
public struct Persistence: Sendable, Hashable {
    /// Whether and how clients stick.
    public var type: PersistenceType
    /// How long a client keeps its gateway after its last connection started.
    public var timeout: HALBDuration

    /// Creates persistence settings (none by default; a client sticks for 30 minutes when on).
    public init(type: PersistenceType = .none, timeout: HALBDuration = .minutes(30)) {
        self.type = type
        self.timeout = timeout
    }
}

/// Connection limits of a virtual server.
public struct Limits: Sendable, Hashable {
    /// Concurrent client connections over all payloads of the virtual server; more are refused.
    public var maxConnections: Int
    /// Concurrent connections from one payload of this virtual server to one gateway; 0 means no limit.
    public var maxConnectionsPerGateway: Int

    /// Creates limits.
    public init(maxConnections: Int = 20_000, maxConnectionsPerGateway: Int = 0) {
        self.maxConnections = maxConnections
        self.maxConnectionsPerGateway = maxConnectionsPerGateway
    }
}

/// A virtual server: a VIP, its payloads and the devices that serve it.
public struct VirtualServer: Sendable, Hashable {
    /// Unique name within the site.
    public var name: String
    /// Whether devices serve it at all.
    public var enabled: Bool
    /// Free text for operators.
    public var description: String
    /// The FQDN or IP clients are told to use; informational.
    public var publicAddress: String?
    /// The virtual IP.
    public var vip: VirtualIP
    /// VRRP settings for failover between its devices.
    public var vrrp: VRRPSettings
    /// The devices serving it, in priority order (first is the preferred primary).
    public var devices: [DeviceAssignment]
    /// Its payloads, in the order `gateway`, `ssl`, `clientManagement`; absent ones are not served.
    public var payloads: [Payload]
    /// Active health checks of its gateways.
    public var healthCheck: HealthCheck
    /// Its timeouts.
    public var timeouts: Timeouts
    /// Its limits.
    public var limits: Limits
    /// PROXY protocol toward its gateways.
    public var proxyProtocol: ProxyProtocolVersion
    /// Whether a client sticks to one gateway.
    public var persistence: Persistence
    /// Its RDP-UDP payload, if any.
    public var udp: UDPPayload?

    /// Creates a virtual server.
    public init(
        name: String,
        enabled: Bool = true,
        description: String = "",
        publicAddress: String? = nil,
        vip: VirtualIP,
        vrrp: VRRPSettings = VRRPSettings(),
        devices: [DeviceAssignment],
        payloads: [Payload],
        healthCheck: HealthCheck = HealthCheck(),
        timeouts: Timeouts = Timeouts(),
        limits: Limits = Limits(),
        proxyProtocol: ProxyProtocolVersion = .off,
        persistence: Persistence = Persistence(),
        udp: UDPPayload? = nil
    ) {
        self.udp = udp
        self.name = name
        self.enabled = enabled
        self.description = description
        self.publicAddress = publicAddress
        self.vip = vip
        self.vrrp = vrrp
        self.devices = devices
        self.payloads = payloads
        self.healthCheck = healthCheck
        self.timeouts = timeouts
        self.limits = limits
        self.proxyProtocol = proxyProtocol
        self.persistence = persistence
    }

    /// The payload of `kind`, if configured.
    public func payload(_ kind: PayloadKind) -> Payload? { self.payloads.first { $0.kind == kind } }
}
