import GRDB
import HALBCore
import Hummingbird
import Logging
import Synchronization

/// Answers every error that is not already an HTTP answer with a problem body instead of Hummingbird's empty 500:
/// a store that cannot be written (the disk is full, an I/O error) is 503 "nothing was stored", anything else 500.
/// The cause is logged, at most once every 10 s (with the count left out), since a full disk fails every request.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext

    private let log = LogLimit()

    func handle(
        _ request: Request,
        context: ConsoleRequestContext,
        next: (Request, ConsoleRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as DatabaseError
            where [.SQLITE_FULL, .SQLITE_IOERR, .SQLITE_CANTOPEN].contains(error.resultCode)
        {
            if let suppressed = self.log.admit() {
                context.logger.error(
                    "The console cannot write its store; changes and logins fail until it can",
                    metadata: ["error": "\(error.message ?? "\(error.resultCode)")", "log.suppressed": "\(suppressed)"]
                )
            }
            let full = error.resultCode == .SQLITE_FULL
            throw ConsoleError.unavailable(
                "the console cannot write its store (\(full ? "the disk is full" : "a disk I/O error")): nothing was stored; try again later"
            )
        } catch {
            if let suppressed = self.log.admit() {
                context.logger.error(
                    "Request failed",
                    metadata: ["error": "\(error)", "log.suppressed": "\(suppressed)"]
                )
            }
            throw ConsoleError.internalFailure("the console failed to answer this request; the reason is in its log")
        }
    }
}

/// One ``LogRateLimiter`` shared by the requests that may fail together.
private final class LogLimit: Sendable {
    private let limiter = Mutex(LogRateLimiter(interval: .seconds(10)))
    private let origin = ContinuousClock.now

    /// The number of lines left out since the last one, or `nil` to leave this one out.
    func admit() -> Int? {
        let now = ContinuousClock.now - self.origin
        return self.limiter.withLock { limiter in
            if case .log(let suppressed) = limiter.decide(now: now) { return suppressed }
            return nil
        }
    }
}
