import HALBCore

/// What one device serves, derived from a site: its listeners and, for each, the gateways and settings to use.
///
/// A plain value built by ``init(site:device:)``; the ``Balancer`` reconciles its running state to it.
public struct BalancerConfiguration: Sendable, Equatable {
    /// The site's name.
    public var siteName: String
    /// The site's configuration version.
    public var version: Int
    /// One entry per address and port to listen on.
    public var listeners: [ListenerConfiguration]
    /// One entry per address and UDP port of the `udp` payloads.
    public var udpListeners: [UDPListenerConfiguration]
    /// Virtual servers whose routes and health checks run but whose listeners stay closed: a device that may
    /// listen on a VIP only while it holds it (the loopback demo, whose "VIP" is the listener). Empty by default:
    /// on a network every device listens on the VIP (`IP_FREEBIND`) and VRRP moves the address.
    public var closedVirtualServers: Set<String> = []
    /// Bind listeners with `SO_REUSEPORT`, so that another process of the same user can listen on the same address
    /// at the same time (the loopback demo: the device taking over binds before the one handing over closes). A
    /// device on a network keeps its ports to itself: a second device started by mistake fails to bind instead of
    /// taking half the connections. Takes effect for listeners bound from then on.
    public var sharedPorts = false

    /// Creates a configuration from its parts (tests use this to listen on port 0).
    public init(
        siteName: String,
        version: Int,
        listeners: [ListenerConfiguration],
        udpListeners: [UDPListenerConfiguration] = []
    ) {
        self.siteName = siteName
        self.version = version
        self.listeners = listeners
        self.udpListeners = udpListeners
    }

    /// Derives what device `device` serves in `site`: every enabled payload of every enabled virtual server
    /// that lists the device, on the VIP's IPv4 address and, if set, its IPv6 address.
    ///
    /// - Parameters:
    ///   - site: a site that ``SiteValidator`` accepted.
    ///   - device: the device's name.
    public init(site: Site, device: String) {
        self.siteName = site.name
        self.version = site.version
        self.listeners = []
        self.udpListeners = []
        for vs in site.virtualServers(assignedTo: device) where vs.enabled {
            let addresses = [
                AddressText.cidr(vs.vip.ipv4, family: 4)?.address,
                vs.vip.ipv6.flatMap { AddressText.cidr($0, family: 6)?.address },
            ].compactMap { $0 }
            if let udp = vs.udp, udp.enabled {
                // A gateway's health for UDP is that of its TCP port of the same service: the `ssl` payload's if the
                // virtual server has one, else the `gateway` payload's.
                let healthKind: PayloadKind =
                    vs.payload(.ssl)?.enabled == true || vs.payload(.gateway)?.enabled != true ? .ssl : .gateway
                let gateways = (udp.gateways.isEmpty ? site.gateways.map(\.name) : udp.gateways)
                    .compactMap { site.gateway(named: $0) }.filter(\.enabled)
                for address in addresses {
                    for port in udp.ports {
                        self.udpListeners.append(
                            UDPListenerConfiguration(
                                host: address,
                                port: port,
                                virtualServer: vs.name,
                                members: gateways.map {
                                    MemberConfiguration(
                                        name: $0.name,
                                        address: $0.address,
                                        port: $0.ports.udp ?? port,
                                        weight: $0.weight,
                                        drain: $0.drain
                                    )
                                },
                                // With its own check, a gateway's health is that of its UDP port.
                                healthPorts: udp.healthCheck != nil
                                    ? [:]
                                    : Dictionary(gateways.map { ($0.name, $0.ports[healthKind]) }) { first, _ in first
                                    },
                                balancing: udp.balancing,
                                idleTimeout: udp.idleTimeout,
                                maxFlows: udp.maxFlows,
                                healthCheck: udp.healthCheck ?? vs.healthCheck,
                                persistence: vs.persistence
                            )
                        )
                    }
                }
            }
            for payload in vs.payloads where payload.enabled {
                /// The enabled gateways among `names`, at their port for this payload.
                func members(_ names: [String]) -> [MemberConfiguration] {
                    names.compactMap { site.gateway(named: $0) }.filter(\.enabled).map { gateway in
                        MemberConfiguration(
                            name: gateway.name,
                            address: gateway.address,
                            port: gateway.ports[payload.kind],
                            weight: gateway.weight,
                            drain: gateway.drain
                        )
                    }
                }
                let sni =
                    payload.kind == .ssl && payload.sslMode == .passthrough
                    ? payload.sni.map {
                        SNIRouteConfiguration(serverName: $0.serverName, members: members($0.gateways))
                    } : []
                let route = RouteConfiguration(
                    virtualServer: vs.name,
                    payload: payload.kind,
                    members: members(payload.gateways.isEmpty ? site.gateways.map(\.name) : payload.gateways),
                    balancing: payload.balancing,
                    healthCheck: vs.healthCheck,
                    timeouts: vs.timeouts,
                    limits: vs.limits,
                    proxyProtocol: vs.proxyProtocol,
                    persistence: vs.persistence,
                    sni: sni,
                    tls: payload.kind == .ssl && payload.sslMode == .offload
                        ? TLSOffloadConfiguration(
                            certificate: payload.certificate ?? "",
                            privateKey: payload.privateKey ?? "",
                            minimumTLSVersion: payload.minimumTLSVersion,
                            ciphers: payload.ciphers,
                            gatewayTLS: payload.gatewayTLS,
                            alpn: payload.alpn
                        ) : nil
                )
                for address in addresses {
                    self.listeners.append(ListenerConfiguration(host: address, port: payload.port, route: route))
                }
            }
        }
    }
}

/// One listening socket and the route its connections take.
public struct ListenerConfiguration: Sendable, Equatable {
    /// The IP address to bind (the VIP).
    public var host: String
    /// The port to bind; 0 lets the system choose (tests).
    public var port: Int
    /// Where its connections go.
    public var route: RouteConfiguration

    /// Creates a listener configuration.
    public init(host: String, port: Int, route: RouteConfiguration) {
        self.host = host
        self.port = port
        self.route = route
    }

    /// Listeners with equal keys are the same socket across a reload.
    public var key: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }
}

/// How connections of one payload of one virtual server are balanced.
public struct RouteConfiguration: Sendable, Equatable {
    /// The virtual server's name.
    public var virtualServer: String
    /// The payload.
    public var payload: PayloadKind
    /// The gateways, in configuration order.
    public var members: [MemberConfiguration]
    /// The algorithm.
    public var balancing: BalancingAlgorithm
    /// The health check of every member.
    public var healthCheck: HealthCheck
    /// Timeouts.
    public var timeouts: Timeouts
    /// Limits.
    public var limits: Limits
    /// PROXY protocol toward the gateways.
    public var proxyProtocol: ProxyProtocolVersion
    /// Client persistence (shared by every route of the virtual server).
    public var persistence: Persistence
    /// Gateways by TLS server name (a passthrough `ssl` payload); `members` serve clients without a match.
    public var sni: [SNIRouteConfiguration]
    /// TLS offload: the device terminates TLS with this certificate and key (an offloading `ssl` payload).
    public var tls: TLSOffloadConfiguration?

    /// Creates a route.
    public init(
        virtualServer: String,
        payload: PayloadKind,
        members: [MemberConfiguration],
        balancing: BalancingAlgorithm = .leastconn,
        healthCheck: HealthCheck = HealthCheck(),
        timeouts: Timeouts = Timeouts(),
        limits: Limits = Limits(),
        proxyProtocol: ProxyProtocolVersion = .off,
        persistence: Persistence = Persistence(),
        sni: [SNIRouteConfiguration] = [],
        tls: TLSOffloadConfiguration? = nil
    ) {
        self.sni = sni
        self.tls = tls
        self.virtualServer = virtualServer
        self.payload = payload
        self.members = members
        self.balancing = balancing
        self.healthCheck = healthCheck
        self.timeouts = timeouts
        self.limits = limits
        self.proxyProtocol = proxyProtocol
        self.persistence = persistence
    }
}

/// The gateways of one TLS server name (or `*.domain` wildcard) of a route.
public struct SNIRouteConfiguration: Sendable, Equatable {
    /// The server name, as configured.
    public var serverName: String
    /// Its gateways.
    public var members: [MemberConfiguration]

    public init(serverName: String, members: [MemberConfiguration]) {
        self.serverName = serverName
        self.members = members
    }
}

/// One gateway port as a member of a route.
public struct MemberConfiguration: Sendable, Equatable {
    /// The gateway's name.
    public var name: String
    /// Its address.
    public var address: String
    /// Its port for the route's payload.
    public var port: Int
    /// Its weight.
    public var weight: Int
    /// Draining: no new connections.
    public var drain: Bool

    /// Creates a member.
    public init(name: String, address: String, port: Int, weight: Int = 1, drain: Bool = false) {
        self.name = name
        self.address = address
        self.port = port
        self.weight = weight
        self.drain = drain
    }
}
