/// Wakes the tasks that wait for a site to change (the devices' long polls) as soon as a change is committed.
///
/// A waiter first takes the site's ``generation(of:)``, then reads the store, then waits ``since`` that generation:
/// a change committed in between ends the wait at once, so none is missed.
public actor SiteChangeNotifier {
    private var waiters: [String: [Int: CheckedContinuation<Void, Never>]] = [:]
    private var generations: [String: Int] = [:]
    private var nextID = 0

    /// How many changes `site` has had since the console started.
    func generation(of site: String) -> Int {
        self.generations[site, default: 0]
    }

    /// Counts a change of `site` and wakes its waiters.
    func changed(_ site: String) {
        self.generations[site, default: 0] += 1
        let waiting = self.waiters.removeValue(forKey: site) ?? [:]
        for continuation in waiting.values { continuation.resume() }
    }

    /// Returns when `site` has changed since `generation`, after `timeout`, or soon after the task is cancelled.
    func wait(for site: String, since generation: Int, timeout: Duration) async {
        guard self.generations[site, default: 0] == generation else { return }
        let id = self.nextID
        self.nextID += 1
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.wake(id, of: site)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                self.waiters[site, default: [:]][id] = continuation
            }
        } onCancel: {
            Task { await self.wake(id, of: site) }
        }
        timer.cancel()
    }

    private func wake(_ id: Int, of site: String) {
        self.waiters[site]?.removeValue(forKey: id)?.resume()
    }
}
