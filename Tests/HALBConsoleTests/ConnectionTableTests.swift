import HALBConsole
import Testing

@Suite struct ConnectionTableTests {
    private let start = ContinuousClock.now
    private let limits = ConnectionTable<Int>.Limits(total: 4, perAddress: 2, headTimeout: .seconds(10))

    @Test func oneAddressGetsItsShareAndNoMore() {
        var table = ConnectionTable<Int>(limits: self.limits)
        #expect(table.opened(1, address: "203.0.113.9", now: self.start) == .accept(closing: []))
        #expect(table.opened(2, address: "203.0.113.9", now: self.start) == .accept(closing: []))
        #expect(table.opened(3, address: "203.0.113.9", now: self.start) == .refuse(.perAddress))
        table.closed(1)
        #expect(table.opened(3, address: "203.0.113.9", now: self.start) == .accept(closing: []))
    }

    @Test func whenFullTheOldestWaitingConnectionMakesRoomAndBusyOnesStay() {
        var table = ConnectionTable<Int>(limits: self.limits)
        for id in 1...4 {
            #expect(
                table.opened(id, address: "198.51.100.\(id)", now: self.start + .seconds(id)) == .accept(closing: [])
            )
        }
        // 1 and 2 are busy (a long poll, say); 3 waits since second 3, 4 since second 4.
        table.requestStarted(1)
        table.requestStarted(2)
        #expect(table.opened(5, address: "198.51.100.5", now: self.start + .seconds(5)) == .accept(closing: [3]))
        #expect(table.opened(6, address: "198.51.100.6", now: self.start + .seconds(6)) == .accept(closing: [4]))
        // Busy 1 ends its response at second 7: it waits again, after 5 and 6.
        table.responseEnded(1, now: self.start + .seconds(7))
        #expect(table.opened(7, address: "198.51.100.7", now: self.start + .seconds(8)) == .accept(closing: [5]))
        table.requestStarted(6)
        table.requestStarted(7)
        #expect(table.opened(8, address: "198.51.100.8", now: self.start + .seconds(9)) == .accept(closing: [1]))
        table.requestStarted(8)
        #expect(table.opened(9, address: "198.51.100.9", now: self.start + .seconds(9)) == .refuse(.full))
        #expect(table.count == 4)
    }

    @Test func aHeadIsOverdueAfterTheTimeoutUnlessARequestRuns() {
        var table = ConnectionTable<Int>(limits: self.limits)
        _ = table.opened(1, address: "192.0.2.1", now: self.start)
        #expect(!table.isOverdue(1, now: self.start + .seconds(9)))
        #expect(table.isOverdue(1, now: self.start + .seconds(10)))
        table.requestStarted(1)
        #expect(!table.isOverdue(1, now: self.start + .seconds(100)))
        table.responseEnded(1, now: self.start + .seconds(100))
        #expect(table.isOverdue(1, now: self.start + .seconds(110)))
        table.closed(1)
        #expect(!table.isOverdue(1, now: self.start + .seconds(200)))
    }
}
