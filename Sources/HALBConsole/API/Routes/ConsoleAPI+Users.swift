import HALBCore
import HALBWire
import Hummingbird

/// Users and their passwords.
extension ConsoleAPI {
    /// Users (admins only) and passwords.
    static func addUserRoutes(
        to group: RouterGroup<ConsoleRequestContext>,
        store: any ConsoleStorage,
        throttle: PasswordGuard
    ) {
        group.get("users") { _, context in
            _ = try context.requireAdmin()
            return try Self.json(try await store.users())
        }
        group.post("users") { request, context in
            let identity = try context.requireAdmin()
            let body = try await Self.body(request, context)
            let roleText =
                body["role"].flatMap { node -> String? in
                    if case .scalar(let text, _) = node { return text }
                    return nil
                } ?? Role.readOnly.rawValue
            guard let role = Role(rawValue: roleText) else {
                throw ConsoleError.invalid([
                    ConfigurationIssue(path: "role", message: "\"\(roleText.prefix(80))\" is not admin or read-only")
                ])
            }
            let user = try await store.createUser(
                try Self.field("name", in: body),
                password: try Self.field("password", in: body),
                role: role,
                actor: identity.user
            )
            return try Self.json(user, status: .created)
        }
        group.delete("users/:name") { _, context in
            let identity = try context.requireAdmin()
            let name = try context.parameters.require("name")
            guard name != identity.user else {
                throw ConsoleError.conflict("you cannot delete yourself (user \(name))")
            }
            try await store.deleteUser(name, actor: identity.user)
            return Response(status: .noContent)
        }
        group.put("users/:name/password") { request, context in
            let identity = try context.requireIdentity()
            let name = try context.parameters.require("name")
            let body = try await Self.body(request, context)
            let own = name == identity.user
            // A read-only principal changes nothing but its own password, and only through a session it logged
            // into with that password: a read-only API token proves no password.
            guard identity.role == .admin || (own && identity.kind == .session) else {
                throw ConsoleError.forbidden(
                    own
                        ? "a read-only API token cannot change its user's password: log in as \(name) and use that session"
                        : "only an admin may set another user's password"
                )
            }
            let password = try Self.field("password", in: body)
            // Your own password needs the current one too: a stolen session token alone cannot take the account.
            // A wrong one counts as a failed login (the same back-off), so this is no faster password oracle.
            if own {
                let current = try Self.field("currentPassword", in: body)
                try await throttle.check(user: name, from: context.clientAddress, store: store, logger: context.logger)
                {
                    try await store.changePassword(
                        of: name,
                        to: password,
                        currentPassword: current,
                        keepingSession: identity.tokenID,
                        actor: identity.user
                    )
                }
            } else {
                try await store.changePassword(
                    of: name,
                    to: password,
                    currentPassword: nil,
                    keepingSession: identity.tokenID,
                    actor: identity.user
                )
            }
            return Response(status: .noContent)
        }
    }
}
