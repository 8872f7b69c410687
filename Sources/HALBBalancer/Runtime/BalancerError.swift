import HALBCore
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Why the balancer could not apply a configuration. Nothing was changed when it is thrown.
public struct BalancerError: Error, CustomStringConvertible, Sendable {
    private enum Base: Sendable {
        case cannotListen(address: String, reason: String)
        case tls(virtualServer: String, payload: String, reason: String)
        case shutDown
    }

    private let base: Base

    /// A listener could not be bound (port taken, address not local, permission).
    public static func cannotListen(address: String, error: any Error) -> BalancerError {
        let reason: String
        if let io = error as? IOError {
            reason = String(cString: strerror(io.errnoCode))
        } else {
            reason = "\(error)"
        }
        return BalancerError(base: .cannotListen(address: address, reason: reason))
    }

    /// An offloading payload's certificate or key cannot be used.
    public static func tls(virtualServer: String, payload: PayloadKind, error: any Error) -> BalancerError {
        BalancerError(base: .tls(virtualServer: virtualServer, payload: payload.rawValue, reason: "\(error)"))
    }

    /// The balancer has been shut down.
    public static let shutDown = BalancerError(base: .shutDown)

    public var description: String {
        switch self.base {
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .tls(let virtualServer, let payload, let reason):
            "virtual server \(virtualServer), \(payload) payload: \(reason)"
        case .shutDown: "the balancer is shut down"
        }
    }
}
