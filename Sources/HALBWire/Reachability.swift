/// "Ping host": an admin asks a device whether it can open a TCP connection to a host of the site.
///
/// `POST /api/v1/sites/{site}/ping` carries a ``PingRequest`` and answers a ``PingResult``; between them, the
/// console hands the device a ``ReachabilityCheck`` over the agent API (`GET /agent/v1/checks`, a long poll) and
/// the device answers with a ``ReachabilityAnswer`` (`POST /agent/v1/checks`).
public struct PingRequest: Sendable, Codable, Hashable {
    /// The device that checks.
    public var device: String
    /// A gateway's name, or an address of the site (a gateway's, a device's, a VIP).
    public var target: String
    /// The TCP port; a gateway's first port when the target is a gateway and no port is given.
    public var port: Int?

    public init(device: String, target: String, port: Int? = nil) {
        self.device = device
        self.target = target
        self.port = port
    }
}

/// What a device found.
public struct PingResult: Sendable, Codable, Hashable {
    public var device: String
    public var address: String
    public var port: Int
    public var reachable: Bool
    /// How long the connection took to open, when it opened.
    public var milliseconds: Int?
    /// Why not, when it did not ("connection refused", "timed out after 3 s", ...).
    public var error: String?

    public init(device: String, address: String, port: Int, reachable: Bool, milliseconds: Int?, error: String?) {
        self.device = device
        self.address = address
        self.port = port
        self.reachable = reachable
        self.milliseconds = milliseconds
        self.error = error
    }
}

/// A check the console hands a device.
public struct ReachabilityCheck: Sendable, Codable, Hashable {
    public var id: String
    public var address: String
    public var port: Int

    public init(id: String, address: String, port: Int) {
        self.id = id
        self.address = address
        self.port = port
    }
}

/// A device's answer to a ``ReachabilityCheck``.
public struct ReachabilityAnswer: Sendable, Codable, Hashable {
    public var id: String
    public var reachable: Bool
    public var milliseconds: Int?
    public var error: String?

    public init(id: String, reachable: Bool, milliseconds: Int? = nil, error: String? = nil) {
        self.id = id
        self.reachable = reachable
        self.milliseconds = milliseconds
        self.error = error
    }
}
