import Atomics
import CHALBLinux
import CoreMetrics
import HALBCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One thread of HALB's own plain-TCP data path: an `epoll` loop that owns its sockets.
///
/// It accepts on the listeners it is given, picks a gateway, connects without blocking (trying up to three gateways,
/// each within the connect timeout), writes the PROXY header, then relays both directions. Every socket is
/// registered once, edge-triggered, for input and output; the loop remembers what each side is ready for and
/// moves bytes until the kernel says it would block.
///
/// Bytes are moved with `read`/`send` through one buffer per loop. A direction whose read fills that buffer is a
/// bulk transfer and moves on to `splice(2)` through a pipe, so the bytes stay in the kernel; pipes are taken from
/// a per-loop pool only while they hold bytes, so idle connections hold none. Where splice is refused, the
/// direction stays on `read`/`send`.
///
/// Backpressure: a direction reads only once what it read before is written, so a slow reader stalls the fast
/// writer. Half-close: an end of input on one side shuts the other side's output once the bytes before it are
/// written; the pair closes when both directions have ended. Errors, idle timeouts and shutdown close both sides.
///
/// Everything but the command queue is confined to the loop's thread.
final class RelayLoop: @unchecked Sendable {
    enum Command {
        case add(RelayListener)
        case remove(RelayListener)
        case closeAll
        case stop
    }

    /// How often idle connections are looked for.
    static let sweepInterval: Int64 = 250_000_000
    /// The size of the copy buffer: a read that fills it moves its direction to splice.
    static let bufferSize = 16 * 1024
    /// How many bytes a direction moves in one turn before the loop's other connections get theirs.
    static let turnBytes = 512 * 1024
    /// The size of the relay's pipes, and so how much one splice moves at most: four times a pipe's default, which
    /// halves the CPU per byte of a single stream. Where the kernel refuses the size (an unprivileged user past
    /// `pipe-user-pages-soft`), a pipe keeps its default and a splice moves less.
    static let pipeCapacity = 256 * 1024
    /// Free pipes kept for reuse per loop.
    static let pooledPipes = 64

    /// Client connections open on this loop (read by other threads).
    let open = ManagedAtomic<Int>(0)

    private let epoll: Int32
    private let wake: Int32
    private let commands = NIOLockedValueBox<[Command]>([])
    private let handoff: @Sendable (Int32, Route) -> Void
    /// `false`: every connection is handed to SwiftNIO (`--data-path nio`).
    private let native: Bool
    private let logger: Logger

    private var stopped = false
    private var connections: [RelayConnection?] = []
    private var freeSlots: [Int] = []
    /// Slots freed during one batch of events: reused only after it, so a later event of that batch cannot reach a
    /// new connection.
    private var releasedSlots: [Int] = []
    private var listeners: [RelayListener?] = []
    /// Listeners taken out of the interest set after running out of descriptors, and when to put them back.
    private var paused: [(slot: Int, until: Int64)] = []
    private let buffer: UnsafeMutableRawBufferPointer
    private var pipes: [(read: Int32, write: Int32)] = []
    /// Pairs that moved their share in one turn and have more to move: they go on after the other events, so one
    /// fast transfer cannot hold up the rest of the loop.
    private var ready: [RelayConnection] = []
    private var lastSweep: Int64 = 0
    private var nextSweep: Int64 = 0
    private var nextConnectDeadline: Int64 = .max
    private let acceptFailureLog = LogLimiter(interval: .seconds(1))

    private enum Kind: UInt64 {
        case client = 0
        case gateway = 1
        case listener = 2
        case wake = 3
    }

    init(handoff: @escaping @Sendable (Int32, Route) -> Void, native: Bool, logger: Logger) throws {
        let epoll = chalb_epoll_create()
        guard epoll >= 0 else { throw IOError(errnoCode: errno, reason: "epoll_create1") }
        let wake = chalb_eventfd()
        guard wake >= 0 else {
            let error = errno
            Glibc.close(epoll)
            throw IOError(errnoCode: error, reason: "eventfd")
        }
        guard chalb_epoll_ctl(epoll, 0, wake, CHALB_EPOLLIN, Kind.wake.rawValue) == 0 else {
            let error = errno
            Glibc.close(epoll)
            Glibc.close(wake)
            throw IOError(errnoCode: error, reason: "epoll_ctl")
        }
        self.epoll = epoll
        self.wake = wake
        self.handoff = handoff
        self.native = native
        self.logger = logger
        self.buffer = .allocate(byteCount: Self.bufferSize, alignment: 16)
    }

    /// Queues `command` for the loop's thread and wakes it.
    func post(_ command: Command) {
        self.commands.withLockedValue { $0.append(command) }
        var one: UInt64 = 1
        _ = Glibc.write(self.wake, &one, 8)
    }

    // MARK: - The loop

    /// Runs until ``Command/stop``; then closes every connection and its own descriptors.
    func run() {
        let events = UnsafeMutableBufferPointer<chalb_event>.allocate(capacity: 256)
        defer { events.deallocate() }
        while !self.stopped {
            let count = chalb_epoll_wait(self.epoll, events.baseAddress, 256, self.waitTimeout())
            if count < 0 {
                let error = errno
                if error == EINTR { continue }
                // Not expected (a bad descriptor or argument); the loop keeps its sockets and tries again rather
                // than leave the engine posting to descriptors it closed.
                if let dropped = self.acceptFailureLog.admit() {
                    self.logger.warning(
                        "epoll_wait failed",
                        metadata: ["error": "\(Self.describe(error))", "log.suppressed": "\(dropped)"]
                    )
                }
                usleep(100_000)
                continue
            }
            for index in 0..<Int(count) where !self.stopped {
                self.dispatch(events[index])
            }
            self.runReady()
            if !self.releasedSlots.isEmpty {
                self.freeSlots.append(contentsOf: self.releasedSlots)
                self.releasedSlots.removeAll(keepingCapacity: true)
            }
            if self.open.load(ordering: .relaxed) > 0 || !self.paused.isEmpty {
                let now = chalb_now()
                if now >= self.nextSweep || now >= self.nextConnectDeadline { self.sweep(now: now) }
                if !self.paused.isEmpty { self.resumeListeners(now: now) }
            }
        }
        for connection in self.connections {
            if let connection { self.close(connection) }
        }
        for pipe in self.pipes {
            Glibc.close(pipe.read)
            Glibc.close(pipe.write)
        }
        for (slot, listener) in self.listeners.enumerated() {
            if let listener {
                self.listeners[slot] = nil
                listener.removedFromLoop()
            }
        }
        Glibc.close(self.epoll)
        Glibc.close(self.wake)
        self.buffer.deallocate()
    }

    /// Milliseconds until the next sweep or connect deadline; no limit without connections; none while pairs wait
    /// for their next turn.
    private func waitTimeout() -> Int32 {
        guard self.ready.isEmpty else { return 0 }
        guard self.open.load(ordering: .relaxed) > 0 || !self.paused.isEmpty else { return -1 }
        var next = min(self.nextSweep, self.nextConnectDeadline)
        for pause in self.paused { next = min(next, pause.until) }
        let wait = next - chalb_now()
        return wait <= 0 ? 0 : Int32(clamping: (wait + 999_999) / 1_000_000)
    }

    private func dispatch(_ event: chalb_event) {
        let slot = Int(event.token >> 2)
        switch Kind(rawValue: event.token & 3)! {
        case .client, .gateway:
            guard slot < self.connections.count, let connection = self.connections[slot] else { return }
            self.handle(event.events, on: connection, gatewaySide: event.token & 3 == Kind.gateway.rawValue)
        case .listener:
            guard slot < self.listeners.count, let listener = self.listeners[slot] else { return }
            self.accept(on: listener, slot: slot)
        case .wake:
            var value: UInt64 = 0
            _ = Glibc.read(self.wake, &value, 8)
            let queued = self.commands.withLockedValue { commands in
                defer { commands.removeAll() }
                return commands
            }
            for command in queued { self.run(command) }
        }
    }

    private func run(_ command: Command) {
        switch command {
        case .add(let listener):
            let slot = self.listeners.firstIndex { $0 == nil } ?? self.listeners.count
            if slot == self.listeners.count { self.listeners.append(nil) }
            self.listeners[slot] = listener
            self.watch(listener, slot: slot)
        case .remove(let listener):
            guard let slot = self.listeners.firstIndex(where: { $0 === listener }) else {
                listener.removedFromLoop()
                return
            }
            _ = chalb_epoll_ctl(self.epoll, 2, listener.fd, 0, 0)
            self.paused.removeAll { $0.slot == slot }
            self.listeners[slot] = nil
            listener.removedFromLoop()
        case .closeAll:
            for connection in self.connections {
                if let connection { self.close(connection) }
            }
        case .stop:
            self.stopped = true
        }
    }

    private func watch(_ listener: RelayListener, slot: Int) {
        let token = UInt64(slot) << 2 | Kind.listener.rawValue
        if chalb_epoll_ctl(self.epoll, 0, listener.fd, CHALB_EPOLLIN | CHALB_EPOLLEXCLUSIVE, token) != 0 {
            self.logger.warning("Cannot watch a listener", metadata: ["error": "\(Self.describe(errno))"])
        }
    }

    private func resumeListeners(now: Int64) {
        self.paused.removeAll { pause in
            guard now >= pause.until, let listener = self.listeners[pause.slot] else { return false }
            self.watch(listener, slot: pause.slot)
            return true
        }
    }

    // MARK: - Accepting

    private func accept(on listener: RelayListener, slot: Int) {
        // Listeners are level-triggered (with EPOLLEXCLUSIVE): what is left after this batch wakes the loop again.
        for _ in 0..<64 {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = chalb_accept(listener.fd, &address, &length)
            if fd < 0 {
                let error = errno
                switch error {
                case EAGAIN, EWOULDBLOCK:
                    return
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: stop accepting for a moment instead of spinning on a listener
                    // that stays readable.
                    _ = chalb_epoll_ctl(self.epoll, 2, listener.fd, 0, 0)
                    self.paused.append((slot, chalb_now() + 100_000_000))
                    if let dropped = self.acceptFailureLog.admit() {
                        self.logger.warning(
                            "Cannot accept connections; trying again in 100 ms",
                            metadata: ["error": "\(Self.describe(error))", "log.suppressed": "\(dropped)"]
                        )
                    }
                    return
                default:
                    // A network error of one pending connection (accept(2) says to retry on these).
                    continue
                }
            }
            let route = listener.route
            guard self.native, route.relaysNatively else {
                self.handoff(fd, route)
                continue
            }
            self.start(client: fd, address: address, route: route)
        }
    }

    private func start(client fd: Int32, address: sockaddr_storage, route: Route) {
        guard route.virtualServer.acquire() else {
            route.logger.debug(
                "Connection refused: limit reached",
                metadata: ["vs.max_connections": "\(route.configuration.limits.maxConnections)"]
            )
            Glibc.close(fd)
            return
        }
        _ = chalb_set_int_option(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let slot: Int
        if let free = self.freeSlots.popLast() {
            slot = free
        } else {
            slot = self.connections.count
            self.connections.append(nil)
        }
        let connection = RelayConnection(slot: slot, route: route, client: fd)
        if route.needsClientAddress { connection.clientAddress = Self.socketAddress(address) }
        let token = UInt64(slot) << 2 | Kind.client.rawValue
        guard chalb_epoll_ctl(self.epoll, 0, fd, Self.interest, token) == 0 else {
            route.virtualServer.release()
            Glibc.close(fd)
            self.freeSlots.append(slot)
            return
        }
        self.connections[slot] = connection
        if self.open.loadThenWrappingIncrement(ordering: .relaxed) == 0 {
            // The first connection after a quiet spell: the sweeps start from now.
            let now = chalb_now()
            self.lastSweep = now
            self.nextSweep = now + Self.sweepInterval
        }
        self.connectNext(connection, lastError: nil)
    }

    private static let interest = CHALB_EPOLLIN | CHALB_EPOLLOUT | CHALB_EPOLLRDHUP | CHALB_EPOLLPRI | CHALB_EPOLLET

    // MARK: - Connecting

    private func connectNext(_ connection: RelayConnection, lastError: String?) {
        let route = connection.route
        let pool = route.pool
        guard let index = route.nextMember(in: pool, client: connection.clientAddress, tried: connection.tried) else {
            route.noGatewayTook(
                client: connection.clientAddress ?? Self.peer(of: connection.client),
                tried: connection.tried,
                in: pool,
                lastError: lastError
            )
            self.close(connection)
            return
        }
        connection.tried.append(index)
        let member = pool.members[index]
        member.reserve()
        guard let address = member.target.socketAddress else {
            member.release()
            self.connectNext(connection, lastError: "the gateway's address is not an IP address")
            return
        }
        let fd = chalb_stream_socket(address.protocol.rawValue)
        guard fd >= 0 else {
            let error = errno
            member.release()
            self.connectNext(connection, lastError: Self.describe(error))
            return
        }
        _ = chalb_set_int_option(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let result = Self.withSockAddr(address) { Glibc.connect(fd, $0, $1) }
        if result != 0 && errno != EINPROGRESS {
            let error = errno
            Glibc.close(fd)
            self.gatewayFailed(connection, member: member, error: Self.describe(error))
            return
        }
        let token = UInt64(connection.slot) << 2 | Kind.gateway.rawValue
        guard chalb_epoll_ctl(self.epoll, 0, fd, Self.interest, token) == 0 else {
            let error = errno
            Glibc.close(fd)
            member.release()
            self.connectNext(connection, lastError: Self.describe(error))
            return
        }
        connection.gateway = fd
        connection.member = member
        connection.down = Flow()
        connection.down.readable = false
        connection.connectDeadline = chalb_now() + route.configuration.timeouts.connect.milliseconds * 1_000_000
        self.nextConnectDeadline = min(self.nextConnectDeadline, connection.connectDeadline)
    }

    /// A connect to `member` failed: it counts against the gateway, and the next one is tried.
    private func gatewayFailed(_ connection: RelayConnection, member: GatewayPool.Member, error: String) {
        member.release()
        connection.route.connectFailed(to: member, error: error)
        self.connectNext(connection, lastError: error)
    }

    /// Ends the connect in flight (failed or timed out) and tries the next gateway.
    private func abandonConnect(_ connection: RelayConnection, error: String) {
        guard let member = connection.member else { return }
        Glibc.close(connection.gateway)
        connection.gateway = -1
        connection.member = nil
        self.gatewayFailed(connection, member: member, error: error)
    }

    private func connected(_ connection: RelayConnection) {
        guard let member = connection.member else { return }
        let route = connection.route
        connection.relaying = true
        member.target.connected()
        route.virtualServer.persist(connection.clientAddress, member: member, settings: route.configuration.persistence)
        if route.configuration.proxyProtocol != .off {
            var header = ByteBuffer()
            ProxyHeader.write(
                route.configuration.proxyProtocol,
                source: connection.clientAddress,
                destination: Self.local(of: connection.client),
                into: &header
            )
            connection.up.spill = header.readBytes(length: header.readableBytes) ?? []
            connection.up.pending = connection.up.spill.count
        }
        // The idle clocks start now.
        connection.up.readActivity = true
        connection.down.readActivity = true
        self.relay(connection)
    }

    // MARK: - Relaying

    private func handle(_ events: UInt32, on connection: RelayConnection, gatewaySide: Bool) {
        let input = events & (CHALB_EPOLLIN | CHALB_EPOLLRDHUP | CHALB_EPOLLHUP | CHALB_EPOLLERR) != 0
        let output = events & (CHALB_EPOLLOUT | CHALB_EPOLLHUP | CHALB_EPOLLERR) != 0
        let hangUp = events & (CHALB_EPOLLRDHUP | CHALB_EPOLLHUP | CHALB_EPOLLERR) != 0
        // TCP urgent data: splice stops at the mark for good, and a read stops short before it; that direction
        // reads until it would block, without splice, from now on.
        if events & CHALB_EPOLLPRI != 0 {
            if gatewaySide { connection.down.urgent = true } else { connection.up.urgent = true }
        }
        if !connection.relaying {
            if gatewaySide {
                if events & (CHALB_EPOLLERR | CHALB_EPOLLHUP) != 0 {
                    let error = chalb_socket_error(connection.gateway)
                    self.abandonConnect(connection, error: Self.describe(error == 0 ? ECONNRESET : error))
                    return
                }
                if input { connection.down.readable = true }
                if hangUp { connection.down.sawHangUp = true }
                if events & CHALB_EPOLLOUT != 0 { self.connected(connection) }
            } else if events & (CHALB_EPOLLERR | CHALB_EPOLLHUP) != 0 {
                // The client left while the gateway connect was in flight.
                self.close(connection)
            } else {
                if input { connection.up.readable = true }
                if hangUp { connection.up.sawHangUp = true }
            }
            return
        }
        if gatewaySide {
            if input { connection.down.readable = true }
            if hangUp { connection.down.sawHangUp = true }
            if output { connection.up.writable = true }
        } else {
            if input { connection.up.readable = true }
            if hangUp { connection.up.sawHangUp = true }
            if output { connection.down.writable = true }
        }
        self.relay(connection)
        // A reset or other socket error ends the pair even when neither direction had anything to move (the NIO
        // path closes both sides on an error too).
        if events & CHALB_EPOLLERR != 0, !connection.closed {
            self.close(connection)
        }
    }

    /// Gives the pairs that used up their turn another one.
    private func runReady() {
        guard !self.ready.isEmpty else { return }
        let ready = self.ready
        self.ready.removeAll(keepingCapacity: true)
        for connection in ready where !connection.closed {
            connection.queued = false
            self.relay(connection)
        }
    }

    private func relay(_ connection: RelayConnection) {
        let (client, gateway) = (connection.client, connection.gateway)
        let upError = self.pump(&connection.up, from: client, to: gateway, partnerShut: connection.down.shut)
        // Even when the gateway's side failed, what the gateway sent before goes to the client first.
        let downError = self.pump(&connection.down, from: gateway, to: client, partnerShut: connection.up.shut)
        let error = upError != 0 ? upError : downError
        let upBytes = connection.up.bytes
        let downBytes = connection.down.bytes
        if upBytes > 0 || downBytes > 0 {
            connection.up.bytes = 0
            connection.down.bytes = 0
            let virtualServer = connection.route.virtualServer
            if upBytes > 0 { virtualServer.metricBytesIn.increment(by: upBytes) }
            if downBytes > 0 { virtualServer.metricBytesOut.increment(by: downBytes) }
            connection.member?.target.countBytes(toGateway: upBytes, fromGateway: downBytes)
        }
        if error != 0 || (connection.up.shut && connection.down.shut) {
            self.close(connection)
        } else if (connection.up.turnUsed || connection.down.turnUsed) && !connection.queued {
            connection.queued = true
            self.ready.append(connection)
        }
        connection.up.turnUsed = false
        connection.down.turnUsed = false
    }

    /// Moves what `source` has to `destination` until one of them would block, the input ends or an error
    /// occurs. Returns 0, or the error number that ends the pair. `partnerShut`: the other direction has ended.
    private func pump(_ flow: inout Flow, from source: Int32, to destination: Int32, partnerShut: Bool) -> Int32 {
        var moved = 0
        while true {
            if flow.pending > 0 {
                guard flow.writable else { return 0 }
                let wanted = flow.pending
                let written: Int
                if flow.pipeRead >= 0 {
                    written = chalb_splice(flow.pipeRead, destination, wanted)
                } else {
                    let offset = flow.spillOffset
                    written = flow.spill.withUnsafeBytes { chalb_send(destination, $0.baseAddress! + offset, wanted) }
                }
                if written < 0 {
                    let error = errno
                    if error == EAGAIN || error == EWOULDBLOCK {
                        flow.writable = false
                        return 0
                    }
                    if error == EINTR { continue }
                    return error
                }
                flow.writeActivity = true
                flow.pending -= written
                if flow.pending > 0 {
                    // A short write: write on until the socket says it would block (its wake-up comes only then).
                    if flow.pipeRead < 0 { flow.spillOffset += written }
                    continue
                }
                self.emptied(&flow)
            }
            if flow.eof {
                if !flow.shut {
                    flow.shut = true
                    // When the other direction has ended too, the pair is closed next: no need to shut first.
                    if !partnerShut { Glibc.shutdown(destination, Int32(SHUT_WR)) }
                }
                return 0
            }
            guard flow.readable, flow.writable else { return 0 }
            guard moved < Self.turnBytes else {
                flow.turnUsed = true
                return 0
            }
            if flow.urgent {
                flow.splicing = false
                flow.spliceRefused = true
            }
            if flow.splicing, flow.pipeRead < 0, !self.takePipe(&flow) {
                flow.splicing = false
            }
            let request = flow.splicing ? Self.pipeCapacity : Self.bufferSize
            let read =
                flow.splicing
                ? chalb_splice(source, flow.pipeWrite, request)
                : Glibc.read(source, self.buffer.baseAddress, request)
            if read < 0 {
                let error = errno
                if error == EAGAIN || error == EWOULDBLOCK {
                    // With an empty pipe, this is the socket having nothing more.
                    flow.readable = false
                    if flow.pipeRead >= 0 { self.emptied(&flow) }
                    return 0
                }
                if error == EINTR { continue }
                if flow.splicing, error == EINVAL || error == ENOSYS {
                    flow.splicing = false
                    flow.spliceRefused = true
                    self.emptied(&flow)
                    continue
                }
                return error
            }
            if read == 0 {
                if flow.pipeRead >= 0 { self.emptied(&flow) }
                flow.eof = true
                continue
            }
            flow.readActivity = true
            flow.bytes += read
            moved += read
            // A short read drained the socket; a new arrival raises a new edge. After a hang-up there is no new
            // edge, so read on until the end of input. A splice can stop short with bytes left (the pipe ran out of
            // slots for the socket's fragments), so splicing reads on until the socket says it would block.
            if read < request && !flow.sawHangUp && !flow.splicing && !flow.urgent { flow.readable = false }
            if flow.splicing {
                flow.pending = read
                continue
            }
            if read == request && !flow.spliceRefused { flow.splicing = true }
            var sent = chalb_send(destination, self.buffer.baseAddress, read)
            if sent < 0 {
                let error = errno
                guard error == EAGAIN || error == EWOULDBLOCK || error == EINTR else { return error }
                if error != EINTR { flow.writable = false }
                sent = 0
            }
            flow.writeActivity = flow.writeActivity || sent > 0
            if sent < read {
                // Kept until the destination takes it; nothing more is read meanwhile.
                flow.spill = Array(UnsafeRawBufferPointer(rebasing: self.buffer[sent..<read]))
                flow.spillOffset = 0
                flow.pending = read - sent
            }
        }
    }

    /// Takes a pipe for a splicing direction from the pool, or makes one.
    private func takePipe(_ flow: inout Flow) -> Bool {
        if let pipe = self.pipes.popLast() {
            flow.pipeRead = pipe.read
            flow.pipeWrite = pipe.write
            return true
        }
        var fds: [Int32] = [0, 0]
        guard chalb_pipe(&fds) == 0 else { return false }
        _ = chalb_set_pipe_size(fds[1], Int32(Self.pipeCapacity))
        flow.pipeRead = fds[0]
        flow.pipeWrite = fds[1]
        return true
    }

    /// The direction holds nothing any more: its pipe goes back to the pool, its spill buffer is dropped.
    private func emptied(_ flow: inout Flow) {
        if flow.pipeRead >= 0 {
            if self.pipes.count < Self.pooledPipes {
                self.pipes.append((flow.pipeRead, flow.pipeWrite))
            } else {
                Glibc.close(flow.pipeRead)
                Glibc.close(flow.pipeWrite)
            }
            flow.pipeRead = -1
            flow.pipeWrite = -1
        }
        if !flow.spill.isEmpty {
            flow.spill = []
            flow.spillOffset = 0
        }
        flow.pending = 0
    }

    /// Closes both sides, gives back the pipes and the counts, and frees the slot after this batch of events.
    private func close(_ connection: RelayConnection) {
        guard !connection.closed else { return }
        connection.closed = true
        Glibc.close(connection.client)
        if connection.gateway >= 0 { Glibc.close(connection.gateway) }
        // A pipe still holding bytes cannot be reused.
        for fd in [
            connection.up.pipeRead, connection.up.pipeWrite, connection.down.pipeRead, connection.down.pipeWrite,
        ]
        where fd >= 0 {
            Glibc.close(fd)
        }
        connection.member?.release()
        connection.member = nil
        connection.route.virtualServer.release()
        self.connections[connection.slot] = nil
        self.releasedSlots.append(connection.slot)
        self.open.wrappingDecrement(ordering: .relaxed)
    }

    // MARK: - Timeouts

    /// Closes pairs idle for their timeout and abandons connects past their deadline.
    private func sweep(now: Int64) {
        let elapsed = now - self.lastSweep
        self.lastSweep = now
        self.nextSweep = now + Self.sweepInterval
        self.nextConnectDeadline = .max
        for slot in self.connections.indices {
            guard let connection = self.connections[slot] else { continue }
            if !connection.relaying {
                if now >= connection.connectDeadline {
                    self.abandonConnect(connection, error: "connect timed out")
                } else {
                    self.nextConnectDeadline = min(self.nextConnectDeadline, connection.connectDeadline)
                }
                continue
            }
            let timeouts = connection.route.configuration.timeouts
            let clientActive = connection.up.readActivity || connection.down.writeActivity
            let gatewayActive = connection.down.readActivity || connection.up.writeActivity
            connection.up.readActivity = false
            connection.up.writeActivity = false
            connection.down.readActivity = false
            connection.down.writeActivity = false
            connection.clientIdle = clientActive ? 0 : connection.clientIdle + elapsed
            connection.gatewayIdle = gatewayActive ? 0 : connection.gatewayIdle + elapsed
            if connection.clientIdle >= timeouts.clientIdle.milliseconds * 1_000_000
                || connection.gatewayIdle >= timeouts.gatewayIdle.milliseconds * 1_000_000
            {
                self.close(connection)
            }
        }
    }

    // MARK: - Addresses

    static func describe(_ error: Int32) -> String {
        String(cString: strerror(error))
    }

    static func socketAddress(_ storage: sockaddr_storage) -> SocketAddress? {
        let family = Int32(storage.ss_family)
        return withUnsafeBytes(of: storage) { bytes in
            switch family {
            case AF_INET: SocketAddress(bytes.load(as: sockaddr_in.self))
            case AF_INET6: SocketAddress(bytes.load(as: sockaddr_in6.self))
            default: nil
            }
        }
    }

    static func withSockAddr<T>(_ address: SocketAddress, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        func call<Raw>(_ raw: Raw) -> T {
            withUnsafePointer(to: raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<Raw>.size)) }
            }
        }
        switch address {
        case .v4(let v4): return call(v4.address)
        case .v6(let v6): return call(v6.address)
        case .unixDomainSocket(let unix): return call(unix.address)
        }
    }

    /// The address the socket is bound to (`getsockname`).
    static func local(of fd: Int32) -> SocketAddress? {
        Self.address(of: fd, getsockname)
    }

    /// The address of the socket's peer (`getpeername`).
    static func peer(of fd: Int32) -> SocketAddress? {
        Self.address(of: fd, getpeername)
    }

    private static func address(
        of fd: Int32,
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        return result == 0 ? Self.socketAddress(storage) : nil
    }
}

/// One direction of a relayed pair: what its ends are ready for and what it holds.
struct Flow {
    /// The source may have bytes (edge-triggered: true until a read would block).
    var readable = true
    /// The destination may take bytes.
    var writable = true
    /// The source signalled the end of its input: read until it comes.
    var sawHangUp = false
    var eof = false
    /// The destination's output is shut.
    var shut = false
    var splicing = false
    var spliceRefused = false
    /// The source sent TCP urgent data: no splice, and no short read taken for "drained".
    var urgent = false
    /// This direction moved ``RelayLoop/turnBytes`` in one turn and has more.
    var turnUsed = false
    var pipeRead: Int32 = -1
    var pipeWrite: Int32 = -1
    /// Bytes read and not yet written: in the pipe, or in `spill` from `spillOffset`.
    var pending = 0
    var spill: [UInt8] = []
    var spillOffset = 0
    /// Bytes read since they were last counted.
    var bytes = 0
    var readActivity = false
    var writeActivity = false
}

/// A client connection and its gateway connection, owned by one ``RelayLoop``.
final class RelayConnection {
    let slot: Int
    let route: Route
    let client: Int32
    var gateway: Int32 = -1
    /// Kept only when balancing, persistence or the PROXY header needs it.
    var clientAddress: SocketAddress?
    var member: GatewayPool.Member?
    var tried: [Int] = []
    var relaying = false
    var closed = false
    /// Waiting in the loop's list of pairs with more to move.
    var queued = false
    var connectDeadline: Int64 = 0
    var up = Flow()
    var down = Flow()
    var clientIdle: Int64 = 0
    var gatewayIdle: Int64 = 0

    init(slot: Int, route: Route, client: Int32) {
        self.slot = slot
        self.route = route
        self.client = client
    }
}
