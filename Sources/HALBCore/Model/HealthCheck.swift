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
