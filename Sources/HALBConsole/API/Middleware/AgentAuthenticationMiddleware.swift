import Foundation
import Hummingbird

/// Checks a device's `Authorization: Bearer <credential>` on `/agent/v1` and puts the device into the context.
struct AgentAuthenticationMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let store: any ConsoleStorage

    func handle(
        _ request: Request,
        context: ConsoleRequestContext,
        next: (Request, ConsoleRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
            let agent = try await self.store.agent(
                forCredential: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            )
        else {
            throw ConsoleError.unauthorized(
                "the device credential is missing, unknown or replaced: enrol again with a new join token"
            )
        }
        var context = context
        context.agent = agent
        return try await next(request, context)
    }
}
