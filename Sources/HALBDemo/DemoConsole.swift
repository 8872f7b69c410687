import Foundation
import HALBConsole
import HALBCore
import HALBWire

/// The demo's console: a store in a temporary directory with the demo site, the admin user, an API token for the
/// admin commands and a join token per demo device.
public struct DemoConsole: Sendable {
    public let store: ConsoleStore
    /// The admin's password: `HALB_ADMIN_PASSWORD`, or a random one.
    public let password: String
    /// An admin API token, for `HALB_TOKEN`.
    public let token: String
    /// A one-time join token per device.
    public let joinTokens: [String: String]

    /// Creates the store in `directory` (which must not hold one yet) and fills it.
    public static func create(in directory: URL) async throws -> DemoConsole {
        let store = try ConsoleStore(directory: directory)
        let chosen = ProcessInfo.processInfo.environment["HALB_ADMIN_PASSWORD"]
        let password = try await store.createFirstAdmin(password: chosen) ?? chosen!
        _ = try await store.createSite(try ConfigNode.parse(yaml: DemoSite.yaml), actor: "demo")
        let creator = Identity(user: "admin", role: .admin, tokenID: "", kind: .session)
        let token = try await store.createToken(by: creator, name: "demo", role: .admin).token
        var joinTokens: [String: String] = [:]
        for device in DemoSite.devices {
            joinTokens[device] = try await store.createJoinToken(site: "demo", device: device, actor: "demo").token
        }
        return DemoConsole(store: store, password: password, token: token, joinTokens: joinTokens)
    }
}
