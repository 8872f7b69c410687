import AsyncHTTPClient
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Why a request to the console got no answer, in the words an operator looks for ("connection refused", "no answer
/// within 5 s"), for the admin commands and the agent alike.
public enum ConnectionFailure {
    /// How long connecting to the console may take: a host that does not answer fails within this, whatever the
    /// request's own timeout (a long poll waits much longer for its answer).
    public static let connectTimeout: Duration = .seconds(5)

    /// An HTTP client for the console: connects within ``connectTimeout`` and does not retry a failed connect (a
    /// refused connection fails at once; the agent retries on its own schedule). Shut it down when done.
    public static func makeClient(configuration: HTTPClient.Configuration = .init()) -> HTTPClient {
        var configuration = configuration
        configuration.timeout.connect = .seconds(Self.connectTimeout.components.seconds)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// `error` as a short reason: the system's words for a socket error ("connection refused", "no route to host"),
    /// the timeout that ran out, or the error's own description.
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let dns = error.dnsAError ?? error.dnsAAAAError {
                return "cannot resolve \(error.host): \(dns)"
            }
            // One attempt per address of the host; the last one says why.
            guard let last = error.connectionErrors.last else { return "cannot connect to \(error.host):\(error.port)" }
            return Self.describe(last.error)
        case let error as IOError:
            return Self.describe(errno: error.errnoCode)
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout:
                return "no answer within \(Self.connectTimeout.components.seconds) s (connect timeout)"
            case .deadlineExceeded, .readTimeout: return "no answer in time (timeout)"
            case .remoteConnectionClosed: return "the connection was closed before an answer"
            default: return "\(error)"
            }
        case let error as ChannelError:
            if case .connectTimeout = error {
                return "no answer within \(Self.connectTimeout.components.seconds) s (connect timeout)"
            }
            return "\(error)"
        default:
            return "\(error)"
        }
    }

    /// The system's message for a socket error, in lower case: "connection refused", "network is unreachable".
    static func describe(errno code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
