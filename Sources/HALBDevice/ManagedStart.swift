import AsyncHTTPClient
import HALBAgent
import HALBCore
import Logging

extension ManagedConfiguration {
    /// Enrols if need be, then takes the cached configuration, or waits for the console's first one.
    public static func prepare(
        console: String,
        stateDirectory: String,
        device: String,
        joinToken token: String?,
        http: HTTPClient,
        logger: Logger
    ) async throws -> ManagedConfiguration {
        let base = console.hasSuffix("/") ? String(console.dropLast()) : console
        let state = AgentStateDirectory(stateDirectory)
        var identity: AgentIdentity
        do {
            let stored = try state.identity()
            if let stored, stored.console == base, stored.device == device {
                // Enrolled already: the identity is what counts, and the device starts at once (from its cache when
                // the console is away); a join token given again is used up anyway.
                identity = stored
                if token != nil {
                    logger.notice(
                        "Enrolled already; the join token was not used",
                        metadata: ["state.directory": "\(stateDirectory)"]
                    )
                }
            } else if let token {
                identity = try await AgentClient.enrol(
                    console: console,
                    joinToken: token,
                    device: device,
                    http: http
                )
                try state.store(identity)
                logger.notice(
                    "Enrolled with the console",
                    metadata: ["console.url": "\(identity.console)", "site.name": "\(identity.site)"]
                )
            } else if let stored {
                throw DeviceStartError(
                    "\(stateDirectory) holds the identity of device \(stored.device) of console \(stored.console): give a join token (HALB_JOIN_TOKEN or --join-token-file) to enrol as \(device) with \(base)"
                )
            } else {
                throw AgentError.notEnrolled(stateDirectory)
            }
        } catch let error as DeviceStartError {
            throw error
        } catch {
            throw DeviceStartError("\(error)")
        }
        let client = AgentClient(identity: identity, http: http)
        if let cached = state.cachedConfiguration() {
            logger.notice("Starting from the cached configuration", metadata: ["site.version": "\(cached.version)"])
            return Self(
                client: client,
                state: state,
                initialVersion: cached.version,
                initialSite: cached.site,
                fetched: false
            )
        }
        // No configuration yet: wait for a usable one (the console may be down, or the site not ready for us).
        var after = 0
        var attempt = 0
        while true {
            attempt += 1
            do {
                if let update = try await client.configuration(after: after) {
                    let version = update.version
                    do {
                        let site = try state.materialize(update)
                        if let problem = SiteFile.problem(site: site, device: device) {
                            throw DeviceConfigProblem(description: problem)
                        }
                        return Self(
                            client: client,
                            state: state,
                            initialVersion: version,
                            initialSite: site,
                            fetched: true
                        )
                    } catch {
                        logger.error(
                            "Configuration from the console refused; waiting for the next",
                            metadata: ["site.version": "\(version)", "error": "\(error)"]
                        )
                        try? await client.acknowledge(version: version, error: "\(error)")
                        after = version
                    }
                }
            } catch let error as AgentError where error.isCredentialRejected {
                throw DeviceStartError(
                    "\(error): enrol again with a new join token (HALB_JOIN_TOKEN or --join-token-file)"
                )
            } catch {
                if attempt == 1 || attempt % 30 == 0 {
                    logger.warning("Waiting for the console's first configuration", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(min(10, attempt)))
            }
        }
    }
}

/// Why a device cannot start, said to the operator as is.
public struct DeviceStartError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
