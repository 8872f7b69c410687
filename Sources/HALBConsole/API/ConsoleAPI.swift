import HALBCore
import Hummingbird

/// The console's REST API, `/api/v1` (JSON; site documents also as YAML), described in docs/openapi.yaml.
public enum ConsoleAPI {
    /// The largest request body accepted.
    static let maximumBody = 1 << 20

    /// The software version devices are compared with (Needs update).
    public static let softwareVersion = HALBVersion.current

    /// Builds the router the console serves (tests run the same one).
    ///
    /// - Parameter longPollTimeout: how long a device's configuration request waits for a change (30 s).
    /// - Parameter throttle: counts failed password checks (shared with nothing else; tests pass their own clock).
    /// - Parameter secureCookies: the console speaks HTTPS, so the web page's session cookie is marked Secure.
    /// - Parameter webPage: the page served at `/`.
    public static func router(
        store: any ConsoleStorage,
        longPollTimeout: Duration = .seconds(30),
        throttle: PasswordGuard = PasswordGuard(),
        secureCookies: Bool = false,
        webPage: WebPage = .embedded,
        reachability: ReachabilityBroker = ReachabilityBroker()
    ) -> Router<ConsoleRequestContext> {
        // Each resource's routes are in Routes/ConsoleAPI+<Resource>.swift, the middlewares in Middleware/.
        let router = Router(context: ConsoleRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        Self.addHealthRoute(to: router)
        let api = router.group("api/v1")
        Self.addLoginRoute(to: api, store: store, throttle: throttle)
        Self.addSignInRoute(to: api, store: store, throttle: throttle, secureCookies: secureCookies)
        let authenticated = api.group().add(middleware: AuthenticationMiddleware(store: store))
        Self.addWhoAmIRoute(to: authenticated)
        Self.addSessionRoutes(to: authenticated, store: store, secureCookies: secureCookies)
        Self.addSiteRoutes(to: authenticated, store: store)
        Self.addVersionRoutes(to: authenticated, store: store)
        Self.addSiteItemRoutes(to: authenticated, store: store)
        Self.addAuditRoutes(to: authenticated, store: store)
        Self.addUserRoutes(to: authenticated, store: store, throttle: throttle)
        Self.addTokenRoutes(to: authenticated, store: store)
        Self.addDeviceRoutes(to: authenticated, store: store)
        Self.addPingRoute(to: authenticated, store: store, reachability: reachability)
        Self.addCertificateRoutes(to: authenticated, store: store)
        Self.addAgentRoutes(to: router, store: store, longPollTimeout: longPollTimeout, reachability: reachability)
        webPage.addRoutes(to: router)
        return router
    }
}
