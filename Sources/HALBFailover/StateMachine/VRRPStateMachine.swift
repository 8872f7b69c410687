/// One VRRP virtual router on one device, as RFC 5798 §6.4 (with the RFC 9568 updates) describes it: Initialize,
/// Backup and Master, driven by events and answering with actions.
///
/// It owns no socket and no clock. Time is a `Duration` since any fixed origin, passed with every event; the one
/// timer (Master_Down_Timer in Backup, Adver_Timer in Master) is a deadline the caller arms when told to and reports
/// with ``Event/timerFired`` once it is reached. A report before the deadline (a stale timer) is ignored.
public struct VRRPStateMachine: Sendable {
    /// The protocol state.
    public enum State: String, Sendable {
        case initialize
        case backup
        case master
    }

    /// What does not change while the instance runs (a reload builds a new one).
    public struct Configuration: Sendable, Hashable {
        /// The virtual router id, 1-255.
        public var vrid: UInt8
        /// This device's priority: 255 owns the addresses, 1-254 is a backup's; higher wins.
        public var priority: UInt8
        /// How often a master advertises, in centiseconds (1-4095).
        public var advertInterval: UInt16
        /// Whether a higher-priority backup takes over from a lower-priority master.
        public var preempt: Bool
        /// How long after start-up this device waits before preempting.
        public var preemptDelay: Duration
        /// This device's primary address on the interface: breaks ties between equal priorities (higher wins).
        public var primaryAddress: VRRPAddress

        /// Creates a configuration.
        public init(
            vrid: UInt8,
            priority: UInt8,
            advertInterval: UInt16 = 10,
            preempt: Bool = true,
            preemptDelay: Duration = .zero,
            primaryAddress: VRRPAddress
        ) {
            self.vrid = vrid
            self.priority = priority
            self.advertInterval = advertInterval
            self.preempt = preempt
            self.preemptDelay = preemptDelay
            self.primaryAddress = primaryAddress
        }
    }

    /// What the caller reports.
    public enum Event: Sendable, Hashable {
        /// The instance starts (RFC: Startup).
        case startup
        /// The instance stops; a master resigns with priority 0 (RFC: Shutdown).
        case shutdown
        /// The armed timer's deadline has passed.
        case timerFired
        /// A valid advertisement for this VRID arrived from `sender`.
        case advertisement(priority: UInt8, maxAdvertInterval: UInt16, sender: VRRPAddress)
        /// The effective priority changed (tracking: the device can or cannot serve the virtual server).
        case priorityChanged(UInt8)
    }

    /// What the caller must do, in order.
    public enum Action: Sendable, Hashable {
        /// Send an advertisement with this priority and ``Configuration/advertInterval``.
        case sendAdvertisement(priority: UInt8)
        /// Add the virtual addresses and announce them (gratuitous ARP, unsolicited NA).
        case takeAddresses
        /// Announce the virtual addresses again (gratuitous ARP, unsolicited NA), as they are held already.
        case announceAddresses
        /// Remove the virtual addresses.
        case releaseAddresses
        /// Arm the timer for this deadline, replacing any armed one.
        case armTimer(deadline: Duration)
        /// Disarm the timer.
        case cancelTimer
        /// The state changed; log it, count it, run the notify command.
        case transition(from: State, to: State, reason: String)
    }

    public let configuration: Configuration
    /// The current state.
    public private(set) var state: State = .initialize
    /// The priority advertised now: the configured one, or what tracking set.
    public private(set) var priority: UInt8
    /// The master's advertisement interval, learned from its adverts (centiseconds), at most
    /// ``maximumMasterAdvertInterval``.
    public private(set) var masterAdvertInterval: UInt16
    /// The master as far as this device knows: itself in Master, the last accepted sender in Backup.
    public private(set) var master: VRRPAddress?
    /// The armed timer's deadline.
    public private(set) var deadline: Duration?
    private var startedAt: Duration = .zero
    /// Why the Master_Down_Timer runs short, for the transition's reason.
    private var masterResigned = false
    /// The lower-priority master whose adverts this backup ignores to preempt it, for the transition's reason.
    private var preempted: (sender: VRRPAddress, priority: UInt8)?
    /// When a lower-priority master last made this master announce its addresses again.
    private var lastReannouncement: Duration?

    /// How often a master re-announces its addresses because of a lower-priority master.
    static let reannouncementInterval: Duration = .seconds(1)

    /// How many times its own advertisement interval a backup adopts as Master_Adver_Interval at most.
    ///
    /// RFC 5798 has a backup adopt the master's advertised interval, with no limit, so that a master with a
    /// longer interval is not declared dead between its adverts. But a mis-set or hostile peer that announces
    /// 40 s would stretch Master_Down_Interval to two minutes, during which nobody takes over from a dead master.
    /// Every device of a virtual server takes its interval from the same site, so a real master differs only while
    /// a reload changes it; twice our own interval covers a reload that doubles it, and keeps Master_Down_Interval
    /// at most 6 × our interval + skew (0.8 s with the default 100 ms).
    public static let masterAdvertIntervalFactor: UInt16 = 2

    /// Creates an instance in Initialize.
    public init(configuration: Configuration) {
        self.configuration = configuration
        self.priority = configuration.priority
        self.masterAdvertInterval = configuration.advertInterval
    }

    // MARK: - Timing (RFC 5798 §6.1)

    /// Skew_Time = ((256 - Priority) × Master_Adver_Interval) / 256.
    public var skewTime: Duration {
        Self.centiseconds(Int64(256 - Int(self.priority)) * Int64(self.masterAdvertInterval)) / 256
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    public var masterDownInterval: Duration {
        Self.centiseconds(3 * Int64(self.masterAdvertInterval)) + self.skewTime
    }

    /// The longest Master_Adver_Interval this instance adopts (centiseconds): ``masterAdvertIntervalFactor`` times
    /// its own advertisement interval. A longer advertised interval is adopted as this.
    public var maximumMasterAdvertInterval: UInt16 {
        let (bound, overflow) = self.configuration.advertInterval.multipliedReportingOverflow(
            by: Self.masterAdvertIntervalFactor
        )
        return overflow ? .max : bound
    }

    private var advertInterval: Duration { Self.centiseconds(Int64(self.configuration.advertInterval)) }

    private static func centiseconds(_ value: Int64) -> Duration { .milliseconds(value * 10) }

    // MARK: - Events

    /// Handles `event` at time `now` and returns what to do.
    public mutating func handle(_ event: Event, now: Duration) -> [Action] {
        switch (self.state, event) {
        case (.initialize, .startup):
            self.startedAt = now
            if self.priority == 255 {
                return self.becomeMaster(now: now, reason: "started as the address owner (priority 255)")
            }
            self.masterAdvertInterval = self.configuration.advertInterval
            return self.becomeBackup(now: now, reason: "started")

        case (.initialize, .priorityChanged(let priority)):
            self.priority = priority
            return []

        case (.initialize, _):
            return []

        case (.backup, .shutdown):
            self.state = .initialize
            self.deadline = nil
            self.master = nil
            return [.cancelTimer, .transition(from: .backup, to: .initialize, reason: "shut down")]

        case (.backup, .timerFired):
            guard let deadline = self.deadline, now >= deadline else { return [] }
            let reason =
                if self.masterResigned {
                    "the master resigned (priority 0)"
                } else if let preempted = self.preempted {
                    "preempted \(preempted.sender) (priority \(preempted.priority), ours \(self.priority))"
                } else {
                    "no advertisement for \(Self.show(self.masterDownInterval)) (Master_Down_Interval)"
                }
            return self.becomeMaster(now: now, reason: reason)

        case (.backup, .advertisement(let priority, let interval, let sender)):
            if priority == 0 {
                // The master resigns: take over after Skew_Time, so the highest-priority backup goes first.
                self.masterResigned = true
                return self.arm(now + self.skewTime)
            }
            let preempting =
                self.configuration.preempt && now >= self.startedAt + self.configuration.preemptDelay
            guard !preempting || priority >= self.priority else {
                // A lower-priority master: let the Master_Down_Timer run out and take over.
                self.preempted = (sender, priority)
                return []
            }
            self.masterResigned = false
            self.preempted = nil
            self.masterAdvertInterval = min(interval, self.maximumMasterAdvertInterval)
            self.master = sender
            return self.arm(now + self.masterDownInterval)

        case (.backup, .priorityChanged(let priority)):
            self.priority = priority
            return []

        case (.master, .shutdown):
            self.state = .initialize
            self.deadline = nil
            self.master = nil
            return [
                .cancelTimer,
                .sendAdvertisement(priority: 0),
                .releaseAddresses,
                .transition(from: .master, to: .initialize, reason: "shut down (resigned with priority 0)"),
            ]

        case (.master, .timerFired):
            guard let deadline = self.deadline, now >= deadline else { return [] }
            return [.sendAdvertisement(priority: self.priority)] + self.arm(now + self.advertInterval)

        case (.master, .advertisement(let priority, let interval, let sender)):
            if priority == 0 {
                // A backup's view of the master is stale (a resigning peer): assert mastership at once.
                return [.sendAdvertisement(priority: self.priority)] + self.arm(now + self.advertInterval)
            }
            let wins =
                priority > self.priority
                || (priority == self.priority && sender > self.configuration.primaryAddress)
            guard wins else {
                // Another device thinks it is master too (two backups that took over at almost the same moment,
                // or a healed partition): it will yield on our next advert, but its gratuitous ARP may have won
                // the hosts' caches, and it releases the addresses when it yields. Advertise and announce now
                // (at most once a second), so that traffic comes back at once rather than at the next
                // announcement. keepalived does the same (`vrrp_garp_lower_prio_repeat`).
                guard self.lastReannouncement.map({ now - $0 >= Self.reannouncementInterval }) ?? true else {
                    return []
                }
                self.lastReannouncement = now
                return [.sendAdvertisement(priority: self.priority), .announceAddresses]
                    + self.arm(now + self.advertInterval)
            }
            self.masterAdvertInterval = min(interval, self.maximumMasterAdvertInterval)
            self.master = sender
            let reason =
                priority > self.priority
                ? "advertisement from \(sender) with higher priority \(priority) (ours \(self.priority))"
                : "advertisement from \(sender) with equal priority \(priority) and a higher address"
            return [.releaseAddresses] + self.becomeBackup(now: now, reason: reason, from: .master)

        case (.master, .priorityChanged(let priority)):
            guard priority != self.priority else { return [] }
            self.priority = priority
            // Tell the backups now, so a better one can preempt without waiting for the next advert.
            return [.sendAdvertisement(priority: priority)] + self.arm(now + self.advertInterval)

        case (.backup, .startup), (.master, .startup):
            return []
        }
    }

    // MARK: - Transitions

    private mutating func becomeMaster(now: Duration, reason: String) -> [Action] {
        let from = self.state
        self.state = .master
        self.master = self.configuration.primaryAddress
        self.masterResigned = false
        self.preempted = nil
        return [.sendAdvertisement(priority: self.priority), .takeAddresses]
            + self.arm(now + self.advertInterval)
            + [.transition(from: from, to: .master, reason: reason)]
    }

    private mutating func becomeBackup(now: Duration, reason: String, from: State = .initialize) -> [Action] {
        self.state = .backup
        self.masterResigned = false
        self.preempted = nil
        if from == .initialize { self.master = nil }
        return self.arm(now + self.masterDownInterval) + [.transition(from: from, to: .backup, reason: reason)]
    }

    private mutating func arm(_ deadline: Duration) -> [Action] {
        self.deadline = deadline
        return [.armTimer(deadline: deadline)]
    }

    private static func show(_ duration: Duration) -> String {
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return "\(Int(milliseconds.rounded()))ms"
    }
}
