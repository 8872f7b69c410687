import Testing

@testable import HALBFailover

/// Times are `Duration`s since an arbitrary origin, so the tests are their own fake clock.
@Suite struct VRRPStateMachineTests {
    private let us = VRRPAddress("192.0.2.2")!
    private let peer = VRRPAddress("192.0.2.3")!
    private let lowerPeer = VRRPAddress("192.0.2.1")!

    private func machine(
        priority: UInt8,
        interval: UInt16 = 10,
        preempt: Bool = true,
        preemptDelay: Duration = .zero
    ) -> VRRPStateMachine {
        VRRPStateMachine(
            configuration: .init(
                vrid: 51,
                priority: priority,
                advertInterval: interval,
                preempt: preempt,
                preemptDelay: preemptDelay,
                primaryAddress: self.us
            )
        )
    }

    private func ms(_ value: Int) -> Duration { .milliseconds(value) }

    private func advert(
        _ priority: UInt8,
        interval: UInt16 = 10,
        from sender: VRRPAddress? = nil
    ) -> VRRPStateMachine.Event {
        .advertisement(priority: priority, maxAdvertInterval: interval, sender: sender ?? self.peer)
    }

    // MARK: - Timing

    @Test(arguments: [(UInt8(100), UInt16(100)), (200, 100), (1, 100), (254, 10), (100, 3), (150, 4095)])
    func masterDownIntervalIsThreeIntervalsPlusSkew(priority: UInt8, interval: UInt16) {
        var machine = self.machine(priority: priority, interval: interval)
        _ = machine.handle(.startup, now: .zero)
        let intervalDuration = Duration.milliseconds(Int64(interval) * 10)
        let skew = intervalDuration * (256 - Int(priority)) / 256
        #expect(machine.skewTime == skew)
        #expect(machine.masterDownInterval == intervalDuration * 3 + skew)
        #expect(machine.deadline == intervalDuration * 3 + skew)
    }

    @Test func skewTimeForTheDefaultIntervalIsExact() {
        var machine = self.machine(priority: 100)  // 100 ms adverts
        _ = machine.handle(.startup, now: .zero)
        // (256 - 100) × 100 ms / 256 = 60.9375 ms
        #expect(machine.skewTime == .microseconds(60_937.5))
        #expect(machine.masterDownInterval == .microseconds(360_937.5))
    }

    // MARK: - Initialize

    @Test func startupAsBackupArmsTheMasterDownTimer() {
        var machine = self.machine(priority: 100)
        let actions = machine.handle(.startup, now: self.ms(1000))
        #expect(machine.state == .backup)
        #expect(
            actions == [
                .armTimer(deadline: self.ms(1000) + machine.masterDownInterval),
                .transition(from: .initialize, to: .backup, reason: "started"),
            ]
        )
    }

    @Test func theAddressOwnerStartsAsMaster() {
        var machine = self.machine(priority: 255)
        let actions = machine.handle(.startup, now: .zero)
        #expect(machine.state == .master)
        #expect(
            actions == [
                .sendAdvertisement(priority: 255),
                .takeAddresses,
                .armTimer(deadline: self.ms(100)),
                .transition(from: .initialize, to: .master, reason: "started as the address owner (priority 255)"),
            ]
        )
    }

    @Test func eventsBeforeStartupDoNothing() {
        var machine = self.machine(priority: 100)
        #expect(machine.handle(.timerFired, now: self.ms(5000)) == [])
        #expect(machine.handle(self.advert(200), now: self.ms(5000)) == [])
        #expect(machine.handle(.shutdown, now: self.ms(5000)) == [])
        #expect(machine.state == .initialize)
    }

    // MARK: - Backup

    @Test func aBackupWithoutAdvertisementsBecomesMasterAtMasterDownInterval() {
        var machine = self.machine(priority: 100)
        _ = machine.handle(.startup, now: .zero)
        let down = machine.masterDownInterval
        // A timer report before the deadline is stale.
        #expect(machine.handle(.timerFired, now: down - .nanoseconds(1)) == [])
        #expect(machine.state == .backup)
        let actions = machine.handle(.timerFired, now: down)
        #expect(machine.state == .master)
        #expect(
            actions == [
                .sendAdvertisement(priority: 100),
                .takeAddresses,
                .armTimer(deadline: down + self.ms(100)),
                .transition(from: .backup, to: .master, reason: "no advertisement for 361ms (Master_Down_Interval)"),
            ]
        )
        #expect(machine.master == self.us)
    }

    @Test func advertisementsFromAHigherPriorityMasterKeepABackupWaiting() {
        var machine = self.machine(priority: 100)
        _ = machine.handle(.startup, now: .zero)
        var now = Duration.zero
        for _ in 0..<20 {
            now += self.ms(100)
            #expect(
                machine.handle(self.advert(200), now: now) == [.armTimer(deadline: now + machine.masterDownInterval)]
            )
        }
        #expect(machine.state == .backup)
        #expect(machine.master == self.peer)
        #expect(machine.handle(.timerFired, now: now + self.ms(300)) == [])  // stale
    }

    @Test func aBackupLearnsTheMastersAdvertInterval() {
        var machine = self.machine(priority: 100, interval: 10)
        _ = machine.handle(.startup, now: .zero)
        _ = machine.handle(self.advert(200, interval: 20), now: self.ms(50))
        #expect(machine.masterAdvertInterval == 20)
        // 3 × 200 ms + (256 - 100) × 200 ms / 256
        #expect(machine.masterDownInterval == .milliseconds(600) + .microseconds(121_875))
        #expect(machine.deadline == self.ms(50) + machine.masterDownInterval)
        // A shorter interval is learned too.
        _ = machine.handle(self.advert(200, interval: 5), now: self.ms(100))
        #expect(machine.masterAdvertInterval == 5)
    }

    @Test func aBackupAdoptsAtMostTwiceItsOwnIntervalFromAnyMaster() {
        var machine = self.machine(priority: 100, interval: 10)
        _ = machine.handle(.startup, now: .zero)
        // A master announcing 10 s (hostile or mis-set) is followed, but its interval is bounded at 200 ms.
        _ = machine.handle(self.advert(254, interval: 1000), now: self.ms(50))
        #expect(machine.maximumMasterAdvertInterval == 20)
        #expect(machine.masterAdvertInterval == 20)
        #expect(machine.masterDownInterval == .milliseconds(600) + .microseconds(121_875))
        // It goes quiet: the backup takes over within 0.8 s, not 30 s.
        let deadline = self.ms(50) + machine.masterDownInterval
        #expect(machine.deadline == deadline)
        #expect(machine.handle(.timerFired, now: deadline).contains(.takeAddresses))
        #expect(machine.state == .master)
    }

    @Test func aMasterThatYieldsAdoptsAtMostTwiceItsOwnInterval() {
        var machine = self.master(priority: 200)
        let now = self.ms(1000)
        let actions = machine.handle(self.advert(254, interval: 1000), now: now)
        #expect(actions.first == .releaseAddresses)
        #expect(machine.state == .backup)
        #expect(machine.masterAdvertInterval == 20)
        // 3 × 200 ms + (256 - 200) × 200 ms / 256 = 643.75 ms: the VIP is back within a second of the last advert.
        #expect(machine.deadline == now + .microseconds(643_750))
        #expect(machine.handle(.timerFired, now: now + .microseconds(643_750)).contains(.takeAddresses))
    }

    @Test func theIntervalBoundDoesNotOverflow() {
        var machine = self.machine(priority: 100, interval: 40_000)
        _ = machine.handle(.startup, now: .zero)
        #expect(machine.maximumMasterAdvertInterval == .max)
        _ = machine.handle(self.advert(200, interval: 4095), now: self.ms(10))
        #expect(machine.masterAdvertInterval == 4095)
    }

    @Test func aResigningMasterIsReplacedAfterSkewTimeOnly() {
        var machine = self.machine(priority: 100)
        _ = machine.handle(.startup, now: .zero)
        _ = machine.handle(self.advert(200), now: self.ms(100))
        let actions = machine.handle(self.advert(0), now: self.ms(150))
        #expect(actions == [.armTimer(deadline: self.ms(150) + machine.skewTime)])
        let takeover = machine.handle(.timerFired, now: self.ms(150) + machine.skewTime)
        #expect(machine.state == .master)
        #expect(takeover.last == .transition(from: .backup, to: .master, reason: "the master resigned (priority 0)"))
    }

    @Test func withPreemptABackupIgnoresALowerPriorityMasterAndTakesOver() {
        var machine = self.machine(priority: 150, preempt: true)
        _ = machine.handle(.startup, now: .zero)
        #expect(machine.handle(self.advert(100), now: self.ms(100)) == [])
        #expect(machine.handle(self.advert(100), now: self.ms(200)) == [])
        // The deadline armed at start-up was never pushed back.
        let actions = machine.handle(.timerFired, now: machine.masterDownInterval)
        #expect(machine.state == .master)
        #expect(actions.contains(.takeAddresses))
        // The log says it preempted the master it heard, not that it heard nothing.
        #expect(
            actions.contains(
                .transition(from: .backup, to: .master, reason: "preempted 192.0.2.3 (priority 100, ours 150)")
            ),
            "\(actions)"
        )
    }

    @Test func withoutPreemptABackupFollowsALowerPriorityMaster() {
        var machine = self.machine(priority: 150, preempt: false)
        _ = machine.handle(.startup, now: .zero)
        var now = Duration.zero
        for _ in 0..<20 {
            now += self.ms(100)
            #expect(
                machine.handle(self.advert(100), now: now) == [.armTimer(deadline: now + machine.masterDownInterval)]
            )
        }
        #expect(machine.state == .backup)
    }

    @Test func preemptWaitsForThePreemptDelay() {
        var machine = self.machine(priority: 150, preempt: true, preemptDelay: .seconds(2))
        _ = machine.handle(.startup, now: .zero)
        var now = Duration.zero
        // Within the delay a lower-priority master is followed.
        while now < .seconds(2) - self.ms(100) {
            now += self.ms(100)
            #expect(
                machine.handle(self.advert(100), now: now) == [.armTimer(deadline: now + machine.masterDownInterval)]
            )
        }
        // After it, its adverts are ignored and the Master_Down_Timer runs out.
        now += self.ms(100)
        #expect(machine.handle(self.advert(100), now: now) == [])
        let deadline = machine.deadline!
        #expect(machine.handle(.timerFired, now: deadline).contains(.takeAddresses))
    }

    @Test func aBackupShutsDownQuietly() {
        var machine = self.machine(priority: 100)
        _ = machine.handle(.startup, now: .zero)
        #expect(
            machine.handle(.shutdown, now: self.ms(10)) == [
                .cancelTimer, .transition(from: .backup, to: .initialize, reason: "shut down"),
            ]
        )
        #expect(machine.state == .initialize)
    }

    // MARK: - Master

    private func master(priority: UInt8 = 100, preempt: Bool = true) -> VRRPStateMachine {
        var machine = self.machine(priority: priority, preempt: preempt)
        _ = machine.handle(.startup, now: .zero)
        _ = machine.handle(.timerFired, now: machine.masterDownInterval)
        precondition(machine.state == .master)
        return machine
    }

    @Test func aMasterAdvertisesEveryInterval() {
        var machine = self.master()
        var deadline = machine.deadline!
        for _ in 0..<5 {
            #expect(
                machine.handle(.timerFired, now: deadline) == [
                    .sendAdvertisement(priority: 100), .armTimer(deadline: deadline + self.ms(100)),
                ]
            )
            deadline += self.ms(100)
        }
    }

    @Test func aMasterYieldsToAHigherPriority() {
        var machine = self.master(priority: 100)
        let now = self.ms(1000)
        let actions = machine.handle(self.advert(200, interval: 20), now: now)
        #expect(machine.state == .backup)
        #expect(machine.masterAdvertInterval == 20)
        #expect(
            actions == [
                .releaseAddresses,
                .armTimer(deadline: now + machine.masterDownInterval),
                .transition(
                    from: .master,
                    to: .backup,
                    reason: "advertisement from 192.0.2.3 with higher priority 200 (ours 100)"
                ),
            ]
        )
        #expect(machine.master == self.peer)
    }

    @Test func aMasterStaysMasterOnALowerPriority() {
        var machine = self.master(priority: 100)
        #expect(!machine.handle(self.advert(99), now: self.ms(1000)).contains(.releaseAddresses))
        #expect(machine.state == .master)
    }

    @Test func equalPrioritiesAreBrokenByTheHigherPrimaryAddress() {
        // Split brain healed: two masters of equal priority see each other; only the lower address yields.
        var lower = self.master(priority: 100)  // 192.0.2.2
        #expect(!lower.handle(self.advert(100, from: self.lowerPeer), now: self.ms(1000)).contains(.releaseAddresses))
        #expect(lower.state == .master)
        let actions = lower.handle(self.advert(100, from: self.peer), now: self.ms(1000))
        #expect(lower.state == .backup)
        #expect(
            actions.last
                == .transition(
                    from: .master,
                    to: .backup,
                    reason: "advertisement from 192.0.2.3 with equal priority 100 and a higher address"
                )
        )
    }

    @Test func aSplitBrainEndsWithExactlyOneMaster() {
        // Two masters after a partition heals exchange adverts; whatever the order, one master is left.
        var high = self.master(priority: 200)
        var low = VRRPStateMachine(
            configuration: .init(vrid: 51, priority: 100, primaryAddress: self.peer)
        )
        _ = low.handle(.startup, now: .zero)
        _ = low.handle(.timerFired, now: low.masterDownInterval)
        #expect(high.state == .master && low.state == .master)
        _ = high.handle(.advertisement(priority: 100, maxAdvertInterval: 10, sender: self.peer), now: self.ms(2000))
        _ = low.handle(.advertisement(priority: 200, maxAdvertInterval: 10, sender: self.us), now: self.ms(2000))
        #expect(high.state == .master)
        #expect(low.state == .backup)
    }

    @Test func aMasterReannouncesItsAddressesWhenAnotherDeviceAlsoActsAsMasterAtMostOnceASecond() {
        // Two backups took over at almost the same moment: the lower one's gratuitous ARP may have won the hosts'
        // caches, and it releases the addresses when it yields. So the higher one announces them again at once.
        var machine = self.master(priority: 200)
        let now = self.ms(3000)
        #expect(
            machine.handle(self.advert(180), now: now) == [
                .sendAdvertisement(priority: 200), .announceAddresses, .armTimer(deadline: now + self.ms(100)),
            ]
        )
        #expect(machine.state == .master)
        #expect(machine.handle(self.advert(180), now: now + self.ms(990)) == [])
        #expect(machine.handle(self.advert(180), now: now + self.ms(1000)).contains(.announceAddresses))
    }

    @Test func aMasterAnswersAResigningPeerAtOnce() {
        var machine = self.master()
        let now = self.ms(1234)
        #expect(
            machine.handle(self.advert(0), now: now) == [
                .sendAdvertisement(priority: 100), .armTimer(deadline: now + self.ms(100)),
            ]
        )
        #expect(machine.state == .master)
    }

    @Test func aMasterResignsWithPriorityZeroOnShutdown() {
        var machine = self.master()
        #expect(
            machine.handle(.shutdown, now: self.ms(5000)) == [
                .cancelTimer,
                .sendAdvertisement(priority: 0),
                .releaseAddresses,
                .transition(from: .master, to: .initialize, reason: "shut down (resigned with priority 0)"),
            ]
        )
        #expect(machine.state == .initialize)
        #expect(machine.handle(.timerFired, now: self.ms(6000)) == [])
    }

    // MARK: - Priority changes (tracking)

    @Test func aMasterThatLosesPriorityAdvertisesItAtOnceAndAPreemptingBackupTakesOver() {
        var primary = self.master(priority: 200)
        var backup = VRRPStateMachine(configuration: .init(vrid: 51, priority: 100, primaryAddress: self.peer))
        _ = backup.handle(.startup, now: .zero)
        _ = backup.handle(.advertisement(priority: 200, maxAdvertInterval: 10, sender: self.us), now: self.ms(1000))

        // The primary can no longer serve: tracking drops its priority below the backup's.
        let actions = primary.handle(.priorityChanged(50), now: self.ms(1010))
        #expect(actions == [.sendAdvertisement(priority: 50), .armTimer(deadline: self.ms(1110))])
        #expect(primary.priority == 50)

        // The backup ignores the weaker master and takes over when its timer runs out.
        #expect(
            backup.handle(.advertisement(priority: 50, maxAdvertInterval: 10, sender: self.us), now: self.ms(1010))
                == []
        )
        let takeover = backup.handle(.timerFired, now: backup.deadline!)
        #expect(takeover.contains(.takeAddresses))
        // The old primary sees the new master's higher priority and steps down.
        let stepDown = primary.handle(
            .advertisement(priority: 100, maxAdvertInterval: 10, sender: self.peer),
            now: self.ms(1400)
        )
        #expect(stepDown.first == .releaseAddresses)
        #expect(primary.state == .backup)
    }

    @Test func aBackupWhosePriorityRisesPreemptsALowerMaster() {
        var machine = self.machine(priority: 50)
        _ = machine.handle(.startup, now: .zero)
        _ = machine.handle(self.advert(100), now: self.ms(100))
        #expect(machine.handle(.priorityChanged(150), now: self.ms(150)) == [])
        #expect(machine.priority == 150)
        // Now the master's adverts (100) are below ours: they no longer hold the timer back.
        #expect(machine.handle(self.advert(100), now: self.ms(200)) == [])
        #expect(machine.handle(.timerFired, now: machine.deadline!).contains(.takeAddresses))
    }
}
