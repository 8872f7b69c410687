import NIOCore
import NIOPosix

/// A TCP client for tests on NIO's async channel: write, half-close, read until a count or the end.
public struct TestClient: Sendable {
    public let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// Connects to 127.0.0.1:`port` (or `host`); `receiveBuffer` shrinks the socket's receive buffer (a client
    /// whose kernel holds little, so a slow reader makes the sender's buffers fill).
    public static func connect(
        host: String = "127.0.0.1",
        port: Int,
        receiveBuffer: Int? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestClient {
        var bootstrap = ClientBootstrap(group: group)
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        let channel =
            try await bootstrap
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connectTimeout(.seconds(5))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
        return TestClient(channel: channel)
    }

    /// Runs `body` with the inbound and outbound halves and closes the connection after.
    public func run<Result: Sendable>(
        _ body: (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws ->
            Result
    ) async throws -> Result {
        try await self.channel.executeThenClose { inbound, outbound in
            try await body(inbound, outbound)
        }
    }
}

extension NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator {
    /// Reads until `count` bytes have arrived or the stream ends.
    public mutating func read(upTo count: Int) async throws -> ByteBuffer {
        var result = ByteBuffer()
        while result.readableBytes < count, var next = try await self.next() {
            result.writeBuffer(&next)
        }
        return result
    }

    /// Reads until the stream ends; `nil` means the peer closed without sending anything.
    public mutating func readToEnd(limit: Int = 1 << 20) async throws -> ByteBuffer {
        try await self.read(upTo: limit)
    }
}

/// One round trip through an echo path: sends `text`, expects it back.
public func echoRoundTrip(host: String = "127.0.0.1", port: Int, text: String = "ping") async throws -> String {
    let client = try await TestClient.connect(host: host, port: port)
    return try await client.run { inbound, outbound in
        try await outbound.write(ByteBuffer(string: text))
        var reader = inbound.makeAsyncIterator()
        var buffer = try await reader.read(upTo: text.utf8.count)
        return buffer.readString(length: buffer.readableBytes) ?? ""
    }
}
