import HALBWire
import Hummingbird
import NIOCore

/// The request context of the console's API: who is asking, once ``AuthenticationMiddleware`` checked the token.
public struct ConsoleRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `nil` until authenticated (only `/healthz`, `/api/v1/login` and `/agent/v1/enrol` run without).
    public var identity: Identity?
    /// The session token, when the web page's session cookie authenticated the request.
    var sessionToken: String?
    /// The device, on `/agent/v1` routes, once ``AgentAuthenticationMiddleware`` checked its credential.
    public var agent: EnrolledAgent?

    /// The client's IP address (`unknown` for an in-process test client), for the login throttle and the logs.
    public var clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.sessionToken = nil
        self.agent = nil
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    func requireAgent() throws -> EnrolledAgent {
        guard let agent = self.agent else { throw ConsoleError.unauthorized("device credential required") }
        return agent
    }

    /// The authenticated identity.
    func requireIdentity() throws -> Identity {
        guard let identity = self.identity else { throw ConsoleError.unauthorized("authentication required") }
        return identity
    }

    /// The identity, if it may change things.
    func requireAdmin() throws -> Identity {
        let identity = try self.requireIdentity()
        guard identity.role == .admin else {
            throw ConsoleError.forbidden(
                "user \(identity.user) is read-only (this token's role is \(identity.role.rawValue))"
            )
        }
        return identity
    }
}
