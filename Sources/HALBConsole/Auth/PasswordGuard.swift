import HALBCore
import Logging
import Synchronization

/// Runs password checks (logins, and the current password of a password change) through a ``LoginThrottle``: a
/// check that must wait answers 429 with `Retry-After` at once, without checking the password; a failed check is
/// logged and audited, a successful one clears the back-off.
public final class PasswordGuard: Sendable {
    private let throttle = Mutex(LoginThrottle())
    private let now: @Sendable () -> ContinuousClock.Instant

    /// Creates a guard.
    ///
    /// - Parameter now: the clock (tests pass a fake one).
    public init(now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.now = now
    }

    /// Runs `check` for `user`'s password from `address`, unless that user or address must wait.
    ///
    /// - Throws: ``ConsoleError/tooManyAttempts(retryAfter:)`` while waiting; the check's own error otherwise (a
    ///   failure is counted when it is a wrong password: 401, or 422 on `currentPassword`).
    @discardableResult
    public func check<Result: Sendable>(
        user: String,
        from address: String,
        store: any ConsoleStorage,
        logger: Logger,
        _ check: () async throws -> Result
    ) async throws -> Result {
        let now = self.now()
        if let wait = self.throttle.withLock({ $0.wait(user: user, address: address, now: now) }) {
            throw ConsoleError.tooManyAttempts(retryAfter: Self.seconds(wait))
        }
        do {
            let result = try await check()
            self.throttle.withLock { $0.succeeded(user: user, address: address) }
            return result
        } catch let error as ConsoleError where Self.isWrongPassword(error) {
            let wait = self.throttle.withLock { $0.failed(user: user, address: address, now: self.now()) }
            logger.notice(
                "Failed password check",
                metadata: [
                    "user.name": "\(user.prefix(64))",
                    "client.address": "\(address)",
                    "login.wait_seconds": "\(wait.map(Self.seconds) ?? 0)",
                ]
            )
            try? await store.recordFailedPasswordCheck(user: user, address: address)
            throw error
        }
    }

    private static func isWrongPassword(_ error: ConsoleError) -> Bool {
        error.statusCode == 401 || (error.statusCode == 422 && error.issues.contains { $0.path == "currentPassword" })
    }

    /// Whole seconds, rounded up (a `Retry-After` of 0 would invite an immediate retry).
    private static func seconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}
