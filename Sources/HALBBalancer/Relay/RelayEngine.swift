import Atomics
import CHALBLinux
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// HALB's own data path for plain TCP: one ``RelayLoop`` thread per event loop of the balancer, sharing the
/// listening sockets.
///
/// Routes that need more than moving bytes (TLS offload, routing by TLS server name, a gateway given by host name)
/// are handed to SwiftNIO on accept, so every listener is one of these whatever its payload.
final class RelayEngine: Sendable {
    private let loops: [RelayLoop]

    /// Starts `threads` relay loops.
    ///
    /// - Parameters:
    ///   - handoff: takes an accepted socket whose route is not relayed here, and owns it from then on.
    ///   - native: `false` hands every connection to SwiftNIO.
    init(threads: Int, native: Bool, logger: Logger, handoff: @escaping @Sendable (Int32, Route) -> Void) throws {
        var loops: [RelayLoop] = []
        for _ in 0..<max(1, threads) {
            loops.append(try RelayLoop(handoff: handoff, native: native, logger: logger))
        }
        self.loops = loops
        for (index, loop) in loops.enumerated() {
            let thread = Thread {
                // A splice into a socket whose peer has gone raises SIGPIPE in the thread that made it (splice has
                // no MSG_NOSIGNAL). Blocked in the relay threads, it stays pending there and the call fails with
                // EPIPE; the process's own signal handling is left alone.
                var pipeSignal = sigset_t()
                sigemptyset(&pipeSignal)
                sigaddset(&pipeSignal, SIGPIPE)
                pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
                loop.run()
            }
            thread.name = "halb-relay-\(index)"
            thread.start()
        }
    }

    deinit {
        for loop in self.loops { loop.post(.stop) }
    }

    /// Client connections open on the relay loops.
    var openConnections: Int {
        self.loops.reduce(0) { $0 + $1.open.load(ordering: .relaxed) }
    }

    /// Closes every relayed connection; returns how many were open.
    func closeAll() -> Int {
        let open = self.openConnections
        for loop in self.loops { loop.post(.closeAll) }
        return open
    }

    /// Starts accepting on `listener` in every loop.
    func add(_ listener: RelayListener) {
        listener.expectRemovals(self.loops.count)
        for loop in self.loops { loop.post(.add(listener)) }
    }

    /// Stops accepting on `listener`; returns once no loop uses it and its socket is closed. Connections it accepted
    /// stay open.
    func remove(_ listener: RelayListener) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            listener.onClosed { continuation.resume() }
            for loop in self.loops { loop.post(.remove(listener)) }
        }
    }
}

/// A listening socket shared by the relay loops, and the route its connections take.
final class RelayListener: Sendable {
    let fd: Int32
    let boundAddress: SocketAddress?
    private let routeBox: NIOLockedValueBox<Route>
    private let removal = NIOLockedValueBox<(left: Int, closed: Bool, done: (@Sendable () -> Void)?)>((0, false, nil))

    private init(fd: Int32, boundAddress: SocketAddress?, route: Route) {
        self.fd = fd
        self.boundAddress = boundAddress
        self.routeBox = NIOLockedValueBox(route)
    }

    var route: Route {
        get { self.routeBox.withLockedValue { $0 } }
        set { self.routeBox.withLockedValue { $0 = newValue } }
    }

    /// Binds and listens on `host:port`, with free bind (a secondary device listens on a VIP it does not hold yet)
    /// and address reuse; with `sharedPort`, also `SO_REUSEPORT` (see ``BalancerConfiguration/sharedPorts``).
    ///
    /// - Throws: `IOError` naming the call that failed.
    static func bind(host: String, port: Int, route: Route, sharedPort: Bool = false) throws -> RelayListener {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let fd = chalb_stream_socket(address.protocol.rawValue)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        func check(_ result: Int32, _ call: String) throws {
            guard result == 0 else {
                let error = errno
                Glibc.close(fd)
                throw IOError(errnoCode: error, reason: call)
            }
        }
        try check(chalb_set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1), "setsockopt(SO_REUSEADDR)")
        if sharedPort {
            try check(chalb_set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1), "setsockopt(SO_REUSEPORT)")
        }
        if case .v6 = address {
            try check(chalb_set_int_option(fd, Int32(IPPROTO_IPV6), 78, 1), "setsockopt(IPV6_FREEBIND)")
        } else {
            try check(chalb_set_int_option(fd, Int32(IPPROTO_IP), IP_FREEBIND, 1), "setsockopt(IP_FREEBIND)")
        }
        try check(RelayLoop.withSockAddr(address) { Glibc.bind(fd, $0, $1) }, "bind")
        try check(Glibc.listen(fd, 1024), "listen")
        return RelayListener(fd: fd, boundAddress: RelayLoop.local(of: fd), route: route)
    }

    func expectRemovals(_ count: Int) {
        self.removal.withLockedValue { $0.left = count }
    }

    func onClosed(_ done: @escaping @Sendable () -> Void) {
        let closed = self.removal.withLockedValue { state in
            state.done = done
            return state.closed
        }
        if closed { done() }
    }

    /// One loop no longer watches the socket; the last one closes it.
    func removedFromLoop() {
        let done: (@Sendable () -> Void)?? = self.removal.withLockedValue { state in
            state.left -= 1
            guard state.left == 0, !state.closed else { return nil }
            state.closed = true
            Glibc.close(self.fd)
            return .some(state.done)
        }
        guard let done else { return }
        done?()
    }
}
