import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Takes the certificate an operator pinned by its fingerprint from the console itself: connects with TLS, reads
/// the certificates the console presents, and keeps the one whose SHA-256 is the fingerprint. The console's
/// self-signed certificate is its own CA, so its fingerprint is what operators pin.
///
/// Nothing is trusted before the fingerprint matches: the handshake's usual verification is replaced by a callback
/// that records what was presented and lets the handshake finish only when one certificate matches. No data is
/// sent either way.
public enum ConsoleCertificateFetcher {
    /// The most certificates of a chain that are considered.
    public static let maximumCertificates = 10

    /// The certificate of `console`'s chain whose SHA-256 is `sha256`.
    ///
    /// - Parameters:
    ///   - console: an https:// console.
    ///   - sha256: the fingerprint, 64 lowercase hex digits (``ApplianceValidation/fingerprint(_:field:)``).
    ///   - timeout: the bound of the connect and the handshake together.
    ///   - group: where the connection runs.
    /// - Throws: ``ApplianceError``: an http:// console, no connection or handshake in time, or no certificate
    ///   with that fingerprint (the error lists each one presented, with its SHA-256 and subject).
    public static func fetch(
        console: ConsoleURL,
        sha256: String,
        timeout: Duration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(ApplianceError) -> PresentedCertificate {
        let presented = try await Self.presentedCertificates(
            console: console,
            expecting: sha256,
            timeout: timeout,
            group: group
        )
        if let match = presented.first(where: { $0.sha256 == sha256 }) { return match }
        let list = presented.map { "\n  \($0.sha256) \($0.subject)" }.joined()
        throw .issue(
            "--sha256",
            "\(sha256): none of the \(presented.count) certificates \(console) presented has this SHA-256; it presented:\(list)"
        )
    }

    /// The certificates `console` presents in its TLS handshake, as sent (the leaf first), at most
    /// ``maximumCertificates``.
    ///
    /// - Parameter expecting: the fingerprint that lets the handshake finish; with any other, it is aborted once the
    ///   certificates are read.
    /// - Throws: ``ApplianceError`` when the console is http://, or no connection or handshake is made in time.
    public static func presentedCertificates(
        console: ConsoleURL,
        expecting sha256: String?,
        timeout: Duration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(ApplianceError) -> [PresentedCertificate] {
        guard console.isHTTPS else { throw .issue("--console", "fetch-ca needs an https:// console, not \(console)") }
        let context: NIOSSLContext
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            // Verification stays on so that BoringSSL calls the custom callback below, which replaces it.
            configuration.certificateVerification = .fullVerification
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .issue("--console", "cannot set up TLS: \(error)")
        }
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: [PresentedCertificate].self)
        let amount = TimeAmount(timeout)
        let deadline = eventLoop.scheduleTask(in: amount) {
            promise.fail(FetchFailure("no TLS handshake within \(timeout)"))
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        // A TLS server name is a DNS name: SNI carries no IP address.
        let serverName = console.hostIsAddress ? nil : console.host
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(amount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(
                        context: context,
                        serverHostname: serverName,
                        customVerificationCallback: { certificates, verification in
                            let presented = certificates.prefix(Self.maximumCertificates).compactMap {
                                (try? $0.toDERBytes()).map(PresentedCertificate.init(der:))
                            }
                            promise.succeed(presented)
                            let matches = presented.contains { $0.sha256 == sha256 }
                            verification.succeed(matches ? .certificateVerified : .failed)
                        }
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHandler(HandshakeFailureHandler(promise: promise))
                }
            }
        let connection = bootstrap.connect(host: console.host, port: console.effectivePort)
        connection.whenFailure { promise.fail($0) }
        promise.futureResult.whenComplete { _ in
            connection.whenSuccess { $0.close(promise: nil) }
        }
        do {
            return try await promise.futureResult.get()
        } catch let failure as FetchFailure {
            throw .issue("--console", "\(console): \(failure.reason)")
        } catch {
            throw .issue("--console", "\(console): no TLS handshake: \(Self.describe(error))")
        }
    }

    /// A connection error as a short reason: the system's words for a socket error ("connection refused").
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let dns = error.dnsAError ?? error.dnsAAAAError { return "cannot resolve \(error.host): \(dns)" }
            // One attempt per address of the host; the last one says why.
            return error.connectionErrors.last.map { Self.describe($0.error) } ?? "cannot connect"
        case let error as IOError:
            let text = String(cString: strerror(error.errnoCode))
            return text.prefix(1).lowercased() + text.dropFirst()
        case ChannelError.connectTimeout:
            return "no connection in time (connect timeout)"
        default:
            return "\(error)"
        }
    }
}

/// Why the certificates could not be read.
private struct FetchFailure: Error {
    var reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}

/// Fails the fetch when the connection errs or closes before the certificates are read (a server that speaks no
/// TLS, a refused handshake).
private final class HandshakeFailureHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<[PresentedCertificate]>

    init(promise: EventLoopPromise<[PresentedCertificate]>) {
        self.promise = promise
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(FetchFailure("the connection closed before the console presented a certificate"))
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension HandshakeFailureHandler: Sendable {}
