import NIOConcurrencyHelpers
import NIOCore

/// What the device learned of a client's TLS session while offloading it: the server name from its ClientHello.
final class TLSSessionInfo: Sendable {
    private let box = NIOLockedValueBox<String?>(nil)

    var serverName: String? {
        get { self.box.withLockedValue { $0 } }
        set { self.box.withLockedValue { $0 = newValue } }
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
    }
}

@available(*, unavailable)
extension ClientHelloSniffer: Sendable {}
