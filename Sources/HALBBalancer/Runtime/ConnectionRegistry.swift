import NIOConcurrencyHelpers
import NIOCore

/// The open client connections, so shutdown can wait for them and close the stragglers.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            self.channels.withLockedValue { $0[id] = nil }
        }
    }

    var count: Int { self.channels.withLockedValue { $0.count } }

    /// Closes every open connection; returns how many there were.
    func closeAll() -> Int {
        let open = self.channels.withLockedValue { $0.values }
        for channel in open { channel.close(promise: nil) }
        return open.count
    }
}
