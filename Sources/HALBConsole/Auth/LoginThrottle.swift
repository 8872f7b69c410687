/// Slows down password guessing: failed password checks (logins, and the current password of a password change)
/// are counted per user name and per client address, and past a few free failures each further one makes that key
/// wait, twice as long each time, before its next check.
///
/// - Per address: 5 free failures, then 1 s, 2 s, 4 s … up to 15 minutes. One client guessing many users is
///   stopped here.
/// - Per user: 10 free failures, then 1 s, 2 s … up to 30 s, so that guesses from many addresses stay slow (at
///   most about 3 000 a day). This wait does not apply from an address the user logged in from before: an
///   attacker guessing the admin's password from elsewhere cannot lock the admin out.
/// - A success clears the user's and the address's failures; so does a quiet quarter of an hour.
///
/// A pure state machine: the caller passes the time, so tests drive it with a fake clock. It remembers at most
/// ``maximumKeys`` keys of each kind, forgetting the quietest first.
public struct LoginThrottle: Sendable {
    /// What a key is.
    public enum Key: Hashable, Sendable {
        case user(String)
        case address(String)
    }

    struct Policy: Sendable {
        var freeFailures: Int
        var longestWait: Duration
    }

    struct Record: Sendable {
        var failures: Int
        var lastFailure: ContinuousClock.Instant
        var blockedUntil: ContinuousClock.Instant?
    }

    /// The most keys remembered of each kind.
    public static let maximumKeys = 10_000
    /// A key with no failure for this long starts again from nothing.
    public static let quietReset: Duration = .seconds(15 * 60)

    static let userPolicy = Policy(freeFailures: 10, longestWait: .seconds(30))
    static let addressPolicy = Policy(freeFailures: 5, longestWait: .seconds(15 * 60))

    private var records: [Key: Record] = [:]
    /// Users and the addresses they logged in from (the per-user wait does not apply there).
    private var known: Set<[String]> = []

    /// Creates a throttle that remembers nothing yet.
    public init() {}

    /// How long a check for `user` from `address` must still wait, or `nil` when it may run now.
    public func wait(user: String, address: String, now: ContinuousClock.Instant) -> Duration? {
        let keys = self.known.contains([user, address]) ? [Key.address(address)] : [.user(user), .address(address)]
        let waits = keys.compactMap { key -> Duration? in
            guard let record = self.records[key], let until = record.blockedUntil, until > now else { return nil }
            return until - now
        }
        return waits.max()
    }

    /// Records a failed check of `user`'s password from `address`.
    ///
    /// - Returns: how long the next check must wait, if it must.
    @discardableResult
    public mutating func failed(user: String, address: String, now: ContinuousClock.Instant) -> Duration? {
        self.fail(.user(user), policy: Self.userPolicy, now: now)
        self.fail(.address(address), policy: Self.addressPolicy, now: now)
        return self.wait(user: user, address: address, now: now)
    }

    /// Records a successful check: `user` and `address` start again from nothing.
    public mutating func succeeded(user: String, address: String) {
        self.records[.user(user)] = nil
        self.records[.address(address)] = nil
        if self.known.count >= Self.maximumKeys { self.known.removeAll(keepingCapacity: true) }
        self.known.insert([user, address])
    }

    /// How many keys are remembered (for tests).
    var count: Int { self.records.count }

    private mutating func fail(_ key: Key, policy: Policy, now: ContinuousClock.Instant) {
        var record = self.records[key] ?? Record(failures: 0, lastFailure: now, blockedUntil: nil)
        if now - record.lastFailure > Self.quietReset {
            record = Record(failures: 0, lastFailure: now, blockedUntil: nil)
        }
        record.failures += 1
        record.lastFailure = now
        let over = record.failures - policy.freeFailures
        if over > 0 {
            // 1 s, 2 s, 4 s … (the shift is capped so that it cannot overflow).
            let wait = min(Duration.seconds(1 << min(over - 1, 20)), policy.longestWait)
            record.blockedUntil = now + wait
        }
        if self.records[key] == nil { self.makeRoom(for: key, now: now) }
        self.records[key] = record
    }

    /// Forgets quiet keys, then the longest-quiet ones, when a new key of `key`'s kind would pass the maximum.
    private mutating func makeRoom(for key: Key, now: ContinuousClock.Instant) {
        let sameKind: (Key) -> Bool = {
            switch ($0, key) {
            case (.user, .user), (.address, .address): true
            default: false
            }
        }
        let count = self.records.keys.lazy.filter(sameKind).count
        guard count >= Self.maximumKeys else { return }
        self.records = self.records.filter { !sameKind($0.key) || now - $0.value.lastFailure <= Self.quietReset }
        let left = self.records.filter { sameKind($0.key) }
        if left.count >= Self.maximumKeys {
            // Still full of recent failures: forget the oldest tenth at once, so this runs rarely.
            let oldest = left.sorted { $0.value.lastFailure < $1.value.lastFailure }.prefix(Self.maximumKeys / 10)
            for (old, _) in oldest { self.records[old] = nil }
        }
    }
}
