#if canImport(Glibc)
import Glibc
#endif

/// Why the agent could not do something; the description names the console, file or field.
public struct AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case file(String, errno: Int32)
        case console(String)
        case refused(status: Int, message: String)
        case badSignature
        case notEnrolled(String)
    }

    private let base: Base

    /// A state file could not be written.
    static func file(_ path: String, errno: Int32) -> Self { Self(base: .file(path, errno: errno)) }
    /// The console could not be reached or answered nonsense.
    static func console(_ reason: String) -> Self { Self(base: .console(reason)) }
    /// The console refused a request.
    static func refused(status: Int, message: String) -> Self { Self(base: .refused(status: status, message: message)) }
    /// A configuration without a valid signature: not from this device's console.
    static let badSignature = Self(base: .badSignature)
    /// The device has no identity in its state directory and no join token was given.
    public static func notEnrolled(_ directory: String) -> Self { Self(base: .notEnrolled(directory)) }

    /// Whether trying again later may succeed: the console could not be reached, or answered with a server error
    /// (5xx) or "too many requests" (429). A refusal for cause (other 4xx) and a bad signature are not transient.
    public var isTransient: Bool {
        switch self.base {
        case .console: true
        case .refused(let status, _): status >= 500 || status == 429
        case .file, .badSignature, .notEnrolled: false
        }
    }

    /// Whether the console said the credential is no good (401): the device must enrol again.
    public var isCredentialRejected: Bool {
        if case .refused(401, _) = self.base { return true }
        return false
    }

    public var description: String {
        switch self.base {
        case .file(let path, let code): "cannot write \(path): \(String(cString: strerror(code)))"
        case .console(let reason): reason
        case .refused(let status, let message): "the console answered \(status): \(message)"
        case .badSignature:
            "a configuration without a valid signature was refused: it is not from this device's console"
        case .notEnrolled(let directory):
            "not enrolled: \(directory) holds no identity; give a join token in HALB_JOIN_TOKEN or --join-token-file (from halb join-token create, or POST /api/v1/sites/SITE/join-tokens)"
        }
    }
}
