/// The shapes that cross a process boundary between a device's agent, the console and the admin commands, as
/// `Codable` values: each is declared once, here, and every side encodes or decodes it.

/// A device's agent status, as the console derives it from enrolment, heartbeats and acknowledgements.
public enum AgentState: String, Sendable, Codable, Hashable, CaseIterable {
    /// Enrolled, heartbeats arriving, the current configuration applied, the console's software version.
    case ok = "OK"
    /// Never enrolled. (A device whose credential a new enrolment replaced is refused by the agent API; the status
    /// shows the new enrolment.)
    case notVerified = "Not verified"
    /// Runs older software than the console.
    case needsUpdate = "Needs update"
    /// Missed three heartbeats.
    case offline = "Offline"
    /// Refused the last configuration (NACK); the previous one keeps running.
    case configError = "Config error"
}

/// What a device is for one virtual server (and address family).
public enum VirtualServerRole: String, Sendable, Codable, Hashable, CaseIterable {
    /// Holds the VIP (VRRP master).
    case primary
    /// Stands by (VRRP backup).
    case secondary
    /// Its virtual router has not started yet (the first health checks run) or has stopped.
    case stopped
    /// The virtual server has this one device: no failover, it serves.
    case standalone

    /// Whether the device serves the virtual server's VIP in this role.
    public var serves: Bool { self == .primary || self == .standalone }
}

/// One virtual server's role on a device, from its heartbeat.
public struct AgentRole: Sendable, Codable, Hashable {
    public var virtualServer: String
    /// `ipv4` or `ipv6` for a virtual router; absent for a virtual server without failover.
    public var family: String?
    public var role: VirtualServerRole
    /// The priority the device advertises (tracking lowers it to 1 when it cannot serve); absent without failover.
    public var priority: Int?

    public init(virtualServer: String, family: String?, role: VirtualServerRole, priority: Int?) {
        self.virtualServer = virtualServer
        self.family = family
        self.role = role
        self.priority = priority
    }
}

/// One gateway's health as a device sees it.
public struct AgentGatewayHealth: Sendable, Codable, Hashable {
    public var gateway: String
    /// `up`, `down` or `unknown` (no check finished yet).
    public var state: String

    public init(gateway: String, state: String) {
        self.gateway = gateway
        self.state = state
    }
}

/// What a device reports in each heartbeat (`POST /agent/v1/heartbeat`).
public struct AgentReport: Sendable, Codable, Hashable {
    public var softwareVersion: String
    /// The site version the device runs, if any.
    public var appliedVersion: Int?
    public var roles: [AgentRole]
    public var gateways: [AgentGatewayHealth]
    /// The device is stopping: this is its last heartbeat, and the console shows it Offline at once.
    public var stopping: Bool?
    /// Seconds until the next heartbeat at the latest: the console shows the device Offline after three missed
    /// (5 s when absent, from a device that predates this field).
    public var heartbeatInterval: Int?

    public init(
        softwareVersion: String,
        appliedVersion: Int?,
        roles: [AgentRole],
        gateways: [AgentGatewayHealth],
        stopping: Bool? = nil,
        heartbeatInterval: Int? = nil
    ) {
        self.heartbeatInterval = heartbeatInterval
        self.softwareVersion = softwareVersion
        self.appliedVersion = appliedVersion
        self.roles = roles
        self.gateways = gateways
        self.stopping = stopping
    }
}

/// A device of a site as the status API shows it.
public struct DeviceStatus: Sendable, Codable, Hashable {
    public var device: String
    public var state: AgentState
    public var softwareVersion: String?
    /// The site version the device runs.
    public var appliedVersion: Int?
    public var siteVersion: Int
    public var lastSeen: String?
    /// The last refused configuration's version and reason (Config error).
    public var error: String?
    public var roles: [AgentRole]
    public var gateways: [AgentGatewayHealth]

    public init(
        device: String,
        state: AgentState,
        softwareVersion: String? = nil,
        appliedVersion: Int? = nil,
        siteVersion: Int,
        lastSeen: String? = nil,
        error: String? = nil,
        roles: [AgentRole],
        gateways: [AgentGatewayHealth]
    ) {
        self.device = device
        self.state = state
        self.softwareVersion = softwareVersion
        self.appliedVersion = appliedVersion
        self.siteVersion = siteVersion
        self.lastSeen = lastSeen
        self.error = error
        self.roles = roles
        self.gateways = gateways
    }
}

/// Every device of a site with its agent status (`GET /api/v1/sites/{site}/status`).
public struct SiteStatus: Sendable, Codable, Hashable {
    public var site: String
    public var version: Int
    public var devices: [DeviceStatus]
    /// A digest of the rest: a client waiting for a change passes it back as `since`.
    public var fingerprint: String?

    public init(site: String, version: Int, devices: [DeviceStatus], fingerprint: String? = nil) {
        self.site = site
        self.version = version
        self.devices = devices
        self.fingerprint = fingerprint
    }
}
