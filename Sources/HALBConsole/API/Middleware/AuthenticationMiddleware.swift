import Foundation
import Hummingbird

/// Checks `Authorization: Bearer <token>` and puts the identity into the context; without a valid token the
/// request ends with 401.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let store: any ConsoleStorage

    func handle(
        _ request: Request,
        context: ConsoleRequestContext,
        next: (Request, ConsoleRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw ConsoleError.unauthorized(
                "authentication required: Authorization: Bearer <token> (POST /api/v1/login gives one)"
            )
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let identity = try await self.store.identity(forToken: token) else {
            throw ConsoleError.unauthorized("the token is unknown, revoked or expired")
        }
        var context = context
        context.identity = identity
        return try await next(request, context)
    }
}
