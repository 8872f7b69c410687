import Atomics
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Connections a test server has seen.
public final class ConnectionStats: Sendable {
    /// Connections accepted since start.
    public let accepted = ManagedAtomic<Int>(0)
    /// Connections that sent at least one byte: client connections through a device, not its TCP health checks.
    public let served = ManagedAtomic<Int>(0)
    private let children = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    public init() {}

    /// Connections open now.
    public var open: Int { self.children.withLockedValue { $0.count } }

    func track(_ channel: any Channel) {
        self.accepted.wrappingIncrement(ordering: .relaxed)
        let id = ObjectIdentifier(channel)
        self.children.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in self.children.withLockedValue { $0[id] = nil } }
    }

    /// Closes every open connection (a gateway crash, as clients see it).
    public func closeAll() {
        for channel in self.children.withLockedValue({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// A TCP server on 127.0.0.1 for tests, port chosen by the system unless given.
public final class TestServer: Sendable {
    /// What the server does with a connection.
    public enum Behaviour: Sendable {
        /// Echo every byte; when the client ends its side, write `replyOnEOF` (if any) and end ours.
        case echo(replyOnEOF: String? = nil)
        /// Write `total` bytes as fast as the client takes them, `chunk` bytes per write, counting what was handed to
        /// the kernel.
        case source(total: Int, written: ManagedAtomic<Int>, chunk: Int = 64 * 1024)
        /// Record everything received (up to 64 KiB) and answer nothing.
        case record(NIOLockedValueBox<[UInt8]>)
    }

    public let port: Int
    public let stats: ConnectionStats
    private let channel: any Channel

    private init(port: Int, stats: ConnectionStats, channel: any Channel) {
        self.port = port
        self.stats = stats
        self.channel = channel
    }

    /// Starts a server.
    public static func start(
        _ behaviour: Behaviour = .echo(),
        port: Int = 0,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestServer {
        let stats = ConnectionStats()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                stats.track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FirstReadCounter(stats: stats))
                    switch behaviour {
                    case .echo(let reply):
                        try channel.pipeline.syncOperations.addHandler(EchoHandler(replyOnEOF: reply))
                    case .source(let total, let written, let chunk):
                        try channel.pipeline.syncOperations.addHandler(
                            SourceHandler(total: total, written: written, chunk: chunk)
                        )
                    case .record(let box):
                        try channel.pipeline.syncOperations.addHandler(RecordHandler(box: box))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        return TestServer(port: channel.localAddress!.port!, stats: stats, channel: channel)
    }

    /// Stops listening and drops every connection, like a crashed gateway.
    public func kill() async {
        try? await self.channel.close()
        self.stats.closeAll()
    }

    /// Stops listening; open connections stay.
    public func stopListening() async {
        try? await self.channel.close()
    }
}

/// Counts a connection in `ConnectionStats.served` when its first bytes arrive.
private final class FirstReadCounter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let stats: ConnectionStats
    private var counted = false

    init(stats: ConnectionStats) {
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !self.counted {
            self.counted = true
            self.stats.served.wrappingIncrement(ordering: .relaxed)
        }
        context.fireChannelRead(data)
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let replyOnEOF: String?

    init(replyOnEOF: String?) {
        self.replyOnEOF = replyOnEOF
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            let reply = context.channel.allocator.buffer(string: self.replyOnEOF ?? "")
            let channel = context.channel
            // Close only after queued writes are out: closing the output fails pending writes.
            context.writeAndFlush(self.wrapOutboundOut(reply)).whenComplete { _ in
                channel.close(mode: .output, promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

private final class SourceHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let total: Int
    private let written: ManagedAtomic<Int>
    private var queued = 0
    private let chunk: ByteBuffer

    init(total: Int, written: ManagedAtomic<Int>, chunk: Int) {
        self.total = total
        self.written = written
        self.chunk = ByteBuffer(repeating: 0x61, count: chunk)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.pump(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.pump(context: context)
    }

    private func pump(context: ChannelHandlerContext) {
        let written = self.written
        let channel = context.channel
        while context.channel.isWritable, self.queued < self.total {
            let size = min(self.chunk.readableBytes, self.total - self.queued)
            self.queued += size
            let isLast = self.queued == self.total
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenSuccess {
                written.wrappingIncrement(by: size, ordering: .relaxed)
                // End the stream only once the last bytes are out: closing the output earlier can lose them.
                if isLast { channel.close(mode: .output, promise: nil) }
            }
            context.writeAndFlush(self.wrapOutboundOut(self.chunk.getSlice(at: 0, length: size)!), promise: promise)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

private final class RecordHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let box: NIOLockedValueBox<[UInt8]>

    init(box: NIOLockedValueBox<[UInt8]>) {
        self.box = box
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.box.withLockedValue { bytes in
            if bytes.count < 65536 { bytes += buffer.readableBytesView }
        }
    }
}

/// A listening socket that never accepts and whose queue is full, so connects to it hang: a gateway that does not
/// answer, on loopback.
public final class BlackholeListener: Sendable {
    public let port: Int
    private let fds: [Int32]

    public init() throws {
        let (listener, port) = try boundLoopbackSocket()
        guard listen(listener, 0) == 0 else {
            close(listener)
            throw IOError(errnoCode: errno, reason: "listen")
        }
        // Fill the accept queue (backlog 0 holds one connection) so that later SYNs are dropped.
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        var fds = [listener]
        for _ in 0..<2 {
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
            }
            fds.append(client)
        }
        self.port = port
        self.fds = fds
    }

    deinit {
        for fd in self.fds { close(fd) }
    }
}

/// A port that was free a moment ago on 127.0.0.1 (for configuration files that must name a port).
public func freePort() throws -> Int {
    let (fd, port) = try boundLoopbackSocket()
    close(fd)
    return port
}

/// A TCP socket bound to 127.0.0.1 on a port the system chose (not listening), and that port.
private func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else {
        close(fd)
        throw IOError(errnoCode: errno, reason: "bind")
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// Waits until `condition` holds, checking every 20 ms, for at most `timeout`.
///
/// The default bound is generous because CI runs the suites under ThreadSanitizer with both cores taken, where one
/// step can take several seconds; the wait ends as soon as the condition holds.
///
/// - Returns: whether the condition held in time.
@discardableResult
public func eventually(
    timeout: Duration = .seconds(30),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The time allowed for one step of a test ran out.
public struct TestTimeout: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "test step did not finish within \(self.limit)" }
}

/// Runs `body`, failing with `TestTimeout` when it takes longer than `limit`, so a hung step fails the test instead
/// of hanging the run.
public func withTimeout<Result: Sendable>(
    _ limit: Duration = .seconds(10),
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TestTimeout(limit: limit)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// A port on 127.0.0.1 that is bound but not listening: connects to it are refused, and no other socket (such as
/// a listener bound to port 0 later in the test) can be given it while this lives.
public final class RefusingPort: Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        (self.fd, self.port) = try boundLoopbackSocket()
    }

    deinit {
        close(self.fd)
    }
}
