import Foundation
import HALBWire

/// Hands "ping host" checks from the API to the devices' agents and their answers back (in memory: a check lives
/// only while the admin's request waits for it).
///
/// Bounded: at most ``maximumPending`` checks wait per device; an answer counts only from the device it was asked
/// of.
public actor ReachabilityBroker {
    /// Checks waiting for one device, at most.
    public static let maximumPending = 4

    private struct Pending {
        var check: ReachabilityCheck
        var handedOut: Bool
        var continuation: CheckedContinuation<ReachabilityAnswer?, Never>
    }

    /// By device (`site/device`).
    private var pending: [String: [Pending]] = [:]
    /// Agents waiting for checks, by device.
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    /// Asks device `device` of `site` to check `address`:`port`; the answer, or `nil` when none came within `timeout`.
    ///
    /// - Throws: ``ConsoleError`` when too many checks already wait for the device.
    public func ask(
        site: String,
        device: String,
        address: String,
        port: Int,
        timeout: Duration
    ) async throws
        -> ReachabilityAnswer?
    {
        let key = "\(site)/\(device)"
        guard (self.pending[key]?.count ?? 0) < Self.maximumPending else {
            throw ConsoleError.conflict("device \(device) has \(Self.maximumPending) checks waiting already")
        }
        let check = ReachabilityCheck(id: UUID().uuidString.lowercased(), address: address, port: port)
        let expiry = Task {
            try? await Task.sleep(for: timeout)
            self.expire(key: key, id: check.id)
        }
        defer { expiry.cancel() }
        return await withCheckedContinuation { continuation in
            self.pending[key, default: []].append(Pending(check: check, handedOut: false, continuation: continuation))
            for waiter in self.waiters.removeValue(forKey: key) ?? [] { waiter.resume() }
        }
    }

    /// The checks for device `device` not handed out yet, waiting up to `wait` for one.
    public func checks(site: String, device: String, wait: Duration) async -> [ReachabilityCheck] {
        let key = "\(site)/\(device)"
        if self.takeChecks(key).isEmpty {
            let wake = Task {
                try? await Task.sleep(for: wait)
                self.wakeAll(key)
            }
            // Cancelled (the console stops, the agent went away): the wait ends at once, not after `wait`.
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    if Task.isCancelled { return continuation.resume() }
                    self.waiters[key, default: []].append(continuation)
                }
            } onCancel: {
                Task { await self.wakeAll(key) }
            }
            wake.cancel()
        }
        return self.handOut(key)
    }

    /// Device `device`'s answer; ignored unless it asked that device.
    public func answer(site: String, device: String, _ answer: ReachabilityAnswer) {
        let key = "\(site)/\(device)"
        guard let index = self.pending[key]?.firstIndex(where: { $0.check.id == answer.id }) else { return }
        let entry = self.pending[key]!.remove(at: index)
        entry.continuation.resume(returning: answer)
    }

    private func takeChecks(_ key: String) -> [ReachabilityCheck] {
        (self.pending[key] ?? []).filter { !$0.handedOut }.map(\.check)
    }

    private func handOut(_ key: String) -> [ReachabilityCheck] {
        var handed: [ReachabilityCheck] = []
        for index in (self.pending[key] ?? []).indices where !self.pending[key]![index].handedOut {
            self.pending[key]![index].handedOut = true
            handed.append(self.pending[key]![index].check)
        }
        return handed
    }

    private func wakeAll(_ key: String) {
        for waiter in self.waiters.removeValue(forKey: key) ?? [] { waiter.resume() }
    }

    private func expire(key: String, id: String) {
        guard let index = self.pending[key]?.firstIndex(where: { $0.check.id == id }) else { return }
        let entry = self.pending[key]!.remove(at: index)
        entry.continuation.resume(returning: nil)
    }
}
