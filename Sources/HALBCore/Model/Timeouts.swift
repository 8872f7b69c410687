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
