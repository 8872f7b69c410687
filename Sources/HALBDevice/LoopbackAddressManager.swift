import HALBFailover
import Logging
import NIOConcurrencyHelpers

/// The loopback demo's "VIP": taking it makes the device listen for the virtual servers on it, releasing it closes
/// those listeners. It is the demo's implementation of the seam through which VRRP adds and removes a VIP
/// (``LinuxAddressManager`` is the network's).
///
/// On a network the VIP moves between hosts; here every device shares one host, so the "VIP" is the listener, and
/// the listeners share their port (`BalancerConfiguration.sharedPorts`). A device taking over listens at once, while
/// the one handing over still does; the one handing over closes its listeners only ``handOver`` later, once the
/// new primary surely listens. So at every moment one of them accepts, and no client connection is refused: not
/// when the primary stops (it resigns, the secondary takes over after Skew_Time, then the old primary closes), nor
/// when it comes back and preempts (it listens, advertises, and the secondary closes ``handOver`` later).
final class LoopbackAddressManager: VirtualAddressManager {
    /// How long a device that gives up the "VIP" keeps listening: long enough for the new primary to bind, even on
    /// a busy machine. Both accept meanwhile, which is harmless: both serve the same gateways.
    static let handOver: Duration = .seconds(1)

    private enum Change {
        case take(VRRPAddress)
        /// Stops listening unless the address was taken again since.
        case release(VRRPAddress, generation: Int)
    }

    private struct State {
        /// Counts takes and releases per address, so a late release does not undo a later take.
        var generations: [VRRPAddress: Int] = [:]
        /// Releases scheduled or running.
        var pendingReleases = 0
        /// Resumed once no release is pending.
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let queue: AsyncStream<Change>.Continuation
    private let state = NIOLockedValueBox(State())

    /// - Parameter holding: tells the device that it holds an address (`true`) or no longer does.
    init(holding: @escaping @Sendable (VRRPAddress, Bool) async -> Void) {
        let (changes, queue) = AsyncStream.makeStream(of: Change.self)
        self.queue = queue
        let state = self.state
        // One task applies the changes in the order they become due.
        Task {
            for await change in changes {
                switch change {
                case .take(let address):
                    await holding(address, true)
                case .release(let address, let generation):
                    if state.withLockedValue({ $0.generations[address] == generation }) {
                        await holding(address, false)
                    }
                    let waiting = state.withLockedValue { state in
                        state.pendingReleases -= 1
                        guard state.pendingReleases == 0 else { return [CheckedContinuation<Void, Never>]() }
                        defer { state.waiting = [] }
                        return state.waiting
                    }
                    for continuation in waiting { continuation.resume() }
                }
            }
        }
    }

    func add(
        _ address: VRRPAddress,
        prefix: Int,
        to interface: NetworkInterface,
        lifetime: Duration
    ) throws(FailoverError) {
        self.state.withLockedValue { $0.generations[address, default: 0] += 1 }
        self.queue.yield(.take(address))
    }

    func remove(_ address: VRRPAddress, prefix: Int, from interface: NetworkInterface) throws(FailoverError) {
        let generation = self.state.withLockedValue { state in
            state.generations[address, default: 0] += 1
            state.pendingReleases += 1
            return state.generations[address]!
        }
        Task { [queue] in
            try? await Task.sleep(for: Self.handOver)
            queue.yield(.release(address, generation: generation))
        }
    }

    func announce(_ address: VRRPAddress, on interface: NetworkInterface) throws(FailoverError) {}

    /// Returns once every release asked for so far has closed its listeners (or was overtaken by a take): on
    /// shutdown, the device keeps listening until the new primary does.
    func releasesFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = self.state.withLockedValue { state in
                guard state.pendingReleases > 0 else { return true }
                state.waiting.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    deinit {
        self.queue.finish()
    }
}
