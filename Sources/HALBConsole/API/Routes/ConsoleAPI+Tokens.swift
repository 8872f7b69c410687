import HALBCore
import HALBWire
import Hummingbird

/// Tokens.
extension ConsoleAPI {
    /// Session and API tokens: list, create, revoke.
    static func addTokenRoutes(to group: RouterGroup<ConsoleRequestContext>, store: any ConsoleStorage) {
        group.get("tokens") { _, context in
            let identity = try context.requireIdentity()
            return try Self.json(try await store.tokens(of: identity.role == .admin ? nil : identity.user))
        }
        group.post("tokens") { request, context in
            // Read-only principals mint nothing: a token of theirs would outlive their own revocation.
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let name = try Self.field("name", in: body)
            var role = identity.role
            if case .scalar(let text, _) = body["role"] {
                guard let asked = Role(rawValue: text) else {
                    throw ConsoleError.invalid([
                        ConfigurationIssue(
                            path: "role",
                            message: "\(DisplayText.quoted(text, limit: 80)) is not admin or read-only"
                        )
                    ])
                }
                role = asked
            }
            let (token, info) = try await store.createToken(by: identity, name: name, role: role)
            return try Self.json(TokenCreated(token: token, info: info), status: .created)
        }
        group.delete("tokens/:id") { _, context in
            let identity = try context.requireIdentity()
            let id = try context.parameters.require("id")
            // A read-only principal may end its own session or token (log out), and nothing else.
            guard identity.role == .admin || id == identity.tokenID else {
                throw ConsoleError.forbidden("a read-only token can revoke only itself (token \(identity.tokenID))")
            }
            try await store.deleteToken(id, actor: identity.user)
            return Response(status: .noContent)
        }
    }
}
