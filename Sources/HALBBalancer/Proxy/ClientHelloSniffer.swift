import NIOConcurrencyHelpers
import NIOCore

/// What the device learned of a client's TLS session while offloading it: the server name from its ClientHello
/// and the cipher suite from the device's ServerHello.
final class TLSSessionInfo: Sendable {
    private let box = NIOLockedValueBox<(serverName: String?, cipher: String?)>((nil, nil))

    var serverName: String? {
        get { self.box.withLockedValue { $0.serverName } }
        set { self.box.withLockedValue { $0.serverName = newValue } }
    }

    /// The negotiated cipher suite's OpenSSL name.
    var cipher: String? {
        get { self.box.withLockedValue { $0.cipher } }
        set { self.box.withLockedValue { $0.cipher = newValue } }
    }
}

/// Sits in front of the TLS handler of an offloading connection and reads the client's server name (SNI) from the
/// ClientHello bytes as they pass, unchanged, to be sent to the gateway in a PROXY v2 header. It stops looking
/// once the ClientHello is read, refused, or over ``ClientHello/maximumBufferSize``.
final class ClientHelloSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let info: TLSSessionInfo
    private var seen: [UInt8] = []
    private var done = false

    init(info: TLSSessionInfo) {
        self.info = info
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !self.done {
            let buffer = self.unwrapInboundIn(data)
            self.seen += buffer.readableBytesView
            switch ClientHello.read(self.seen) {
            case .needMore:
                break
            case .complete(let serverName):
                self.info.serverName = serverName
                self.done = true
            case .rejected:
                self.done = true
            }
            if self.done { self.seen = [] }
        }
        context.fireChannelRead(data)
        if self.done { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }
}

@available(*, unavailable)
extension ClientHelloSniffer: Sendable {}

/// Sits between the socket and the TLS handler of an offloading connection and reads the cipher suite from the
/// device's ServerHello as it passes, unchanged, for a PROXY v2 header; then removes itself.
final class ServerHelloSniffer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let info: TLSSessionInfo
    private var seen: [UInt8] = []
    private var done = false
    private var leaving = false

    init(info: TLSSessionInfo) {
        self.info = info
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !self.done {
            let buffer = self.unwrapOutboundIn(data)
            self.seen += buffer.readableBytesView.prefix(ServerHello.maximumBufferSize - self.seen.count)
            switch ServerHello.read(self.seen) {
            case .needMore:
                self.done = self.seen.count >= ServerHello.maximumBufferSize
            case .cipherSuite(let suite):
                self.info.cipher = ServerHello.name(ofCipherSuite: suite)
                self.done = true
            case .notServerHello:
                self.done = true
            }
        }
        context.write(data, promise: promise)
        if self.done && !self.leaving {
            self.leaving = true
            self.seen = []
            // Once the TLS handler's write is over: leaving the pipeline inside it stalls the handshake.
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.execute {
                loopBound.value.pipeline.syncOperations.removeHandler(context: loopBound.value, promise: nil)
            }
        }
    }
}

@available(*, unavailable)
extension ServerHelloSniffer: Sendable {}
