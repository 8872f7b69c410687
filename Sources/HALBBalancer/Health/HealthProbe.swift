import HALBCore
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

#if canImport(Glibc)
import Glibc
#endif

/// One active check of one gateway port: a TCP connect, an HTTP `GET`, or a TLS handshake, bounded by the check's
/// timeout. Succeeds with a short description of what passed; fails with ``HealthProbeFailure`` saying why.
enum HealthProbe {
    /// TLS checks verify nothing: gateways commonly present certificates for public names, not their addresses.
    private static let tlsContext: NIOSSLContext? = {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try? NIOSSLContext(configuration: configuration)
    }()

    static func run(
        _ check: HealthCheck,
        address: String,
        socketAddress: SocketAddress?,
        port: Int,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<String> {
        let promise = eventLoop.makePromise(of: String.self)
        let timeout = TimeAmount.milliseconds(check.timeout.milliseconds)
        let deadline = eventLoop.scheduleTask(in: timeout) {
            promise.fail(HealthProbeFailure("no answer within \(check.timeout)"))
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }

        if check.type == .udp {
            Self.runUDP(
                check,
                address: address,
                socketAddress: socketAddress,
                port: port,
                on: eventLoop,
                promise: promise
            )
            return promise.futureResult
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    switch check.type {
                    case .tcp, .udp:
                        break
                    case .http:
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPStatusProbeHandler(check: check, host: address, promise: promise)
                        )
                    case .tls:
                        guard let context = Self.tlsContext else {
                            throw HealthProbeFailure("TLS is unavailable")
                        }
                        // SNI carries names only, never IP literals.
                        let hostname = AddressText.isHostName(address) ? address : nil
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: hostname)
                        )
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeProbeHandler(promise: promise))
                    }
                }
            }
        let connected =
            socketAddress.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: address, port: port)
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                if check.type == .tcp {
                    promise.succeed("TCP connect succeeded")
                }
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                promise.fail(HealthProbeFailure(describing: error))
            }
        }
        return promise.futureResult
    }
}

extension HealthProbe {
    /// A UDP check: a connected datagram socket sends `check.send`; an answer (holding `check.expect`, if set)
    /// passes. An ICMP port unreachable fails it at once; silence fails it at the timeout.
    private static func runUDP(
        _ check: HealthCheck,
        address: String,
        socketAddress: SocketAddress?,
        port: Int,
        on eventLoop: any EventLoop,
        promise: EventLoopPromise<String>
    ) {
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPProbeHandler(check: check, promise: promise))
                }
            }
        let connected = socketAddress.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: address, port: port)
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                promise.fail(HealthProbeFailure(describing: error))
            }
        }
    }
}

/// Sends the check's datagram once connected and judges the first answer.
private final class UDPProbeHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = ByteBuffer

    private let check: HealthCheck
    private let promise: EventLoopPromise<String>

    init(check: HealthCheck, promise: EventLoopPromise<String>) {
        self.check = check
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(
            self.wrapOutboundOut(context.channel.allocator.buffer(bytes: self.check.send)),
            promise: nil
        )
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let answer = Array(self.unwrapInboundIn(data).data.readableBytesView)
        if let expected = self.check.expect, !expected.isEmpty, !Self.contains(answer, expected) {
            self.promise.fail(HealthProbeFailure("the answer (\(answer.count) bytes) does not hold the expected bytes"))
        } else {
            self.promise.succeed("UDP answer of \(answer.count) bytes")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // On a connected UDP socket, an ICMP port unreachable arrives as ECONNREFUSED.
        self.promise.fail(HealthProbeFailure(describing: error))
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains {
            haystack[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }
}

/// Why a health check failed, in words an operator can act on.
struct HealthProbeFailure: Error, CustomStringConvertible {
    let description: String
    /// Whether the check failed for the device's own shortage (descriptors, buffers, memory) rather than the
    /// gateway's: then it did not really run, and says nothing about the gateway.
    private(set) var isLocalShortage = false

    static func isLocalShortage(_ error: any Error) -> Bool {
        switch error {
        case let failure as HealthProbeFailure:
            return failure.isLocalShortage
        case let connection as NIOConnectionError:
            return connection.connectionErrors.contains { Self.isLocalShortage($0.error) }
        case let io as IOError:
            return [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(io.errnoCode)
        default:
            return false
        }
    }

    init(_ description: String) {
        self.description = description
    }

    init(describing error: any Error) {
        defer { self.isLocalShortage = Self.isLocalShortage(error) }
        switch error {
        case let failure as HealthProbeFailure:
            self = failure
        case let connection as NIOConnectionError:
            if let first = connection.connectionErrors.first {
                self.init(describing: first.error)
            } else {
                self.init("cannot resolve \(connection.host)")
            }
        case let io as IOError:
            self.init("\(String(cString: strerror(io.errnoCode))) (\(io.errnoCode))")
        case ChannelError.connectTimeout(let amount):
            self.init("connect timed out after \(amount.nanoseconds / 1_000_000)ms")
        case let tls as NIOSSLError:
            self.init("TLS handshake failed: \(tls)")
        default:
            self.init("\(error)")
        }
    }
}

/// Sends one HTTP/1.1 `GET` and completes the promise from the response's status line.
/// Reads at most 8 KiB looking for it; a gateway that closes or sends garbage fails the check.
private final class HTTPStatusProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let check: HealthCheck
    private let host: String
    private let promise: EventLoopPromise<String>
    private var received: ByteBuffer?

    init(check: HealthCheck, host: String, promise: EventLoopPromise<String>) {
        self.check = check
        self.host = host
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let request =
            "GET \(self.check.path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: halb-health-check\r\n"
            + "Connection: close\r\nAccept: */*\r\n\r\n"
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        if self.received == nil {
            self.received = buffer
        } else {
            self.received!.writeBuffer(&buffer)
        }
        guard let received = self.received else { return }
        let view = received.readableBytesView
        if let end = view.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: view[view.startIndex..<end], as: UTF8.self)
            self.evaluate(statusLine: line)
            context.close(promise: nil)
        } else if received.readableBytes > 8192 {
            self.promise.fail(HealthProbeFailure("no HTTP status line in the first 8 KiB"))
            context.close(promise: nil)
        }
    }

    private func evaluate(statusLine: String) {
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status)
        else {
            let shown = statusLine.prefix(60).filter { $0.isASCII && !$0.isNewline }
            self.promise.fail(HealthProbeFailure("not an HTTP response: \"\(shown)\""))
            return
        }
        if self.check.accepts(status: status) {
            self.promise.succeed("HTTP \(status) for \(self.check.path)")
        } else {
            let expected = self.check.expectedStatus.map(String.init) ?? "200-399"
            self.promise.fail(HealthProbeFailure("HTTP \(status) for \(self.check.path), expected \(expected)"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(HealthProbeFailure("connection closed before an HTTP status line"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(HealthProbeFailure(describing: error))
        context.close(promise: nil)
    }
}

/// Completes the promise when the TLS handshake finishes.
private final class TLSHandshakeProbeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<String>

    init(promise: EventLoopPromise<String>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let protocolName) = event {
            self.promise.succeed("TLS handshake completed" + (protocolName.map { " (ALPN \($0))" } ?? ""))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(HealthProbeFailure("connection closed during the TLS handshake"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(HealthProbeFailure(describing: error))
        context.close(promise: nil)
    }
}
