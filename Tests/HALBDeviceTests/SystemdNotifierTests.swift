import Testing

@testable import HALBDevice

/// What `halb` takes from the environment systemd gives a `Type=notify` service.
@Suite struct SystemdNotifierTests {
    @Test func aPathOrAnAbstractNameIsTheSocketAndAnythingElseIsNone() {
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/systemd/notify"], pid: 7)?.path.first == 0x2F)
        // "@name": an abstract socket, a 0 byte before the name.
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "@halb"], pid: 7)?.path == [0] + Array("halb".utf8))
        #expect(SystemdNotifier(environment: [:], pid: 7) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "vsock:2:1"], pid: 7) == nil)
        #expect(
            SystemdNotifier(environment: ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)], pid: 7) == nil
        )
    }

    @Test func theWatchdogIsThisProcesssOnlyWhenItsPidSaysSo() {
        let socket = ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "30000000"]
        #expect(SystemdNotifier(environment: socket, pid: 7)?.watchdogInterval == .seconds(30))
        #expect(
            SystemdNotifier(environment: socket.merging(["WATCHDOG_PID": "7"]) { $1 }, pid: 7)?.watchdogInterval
                == .seconds(30)
        )
        #expect(
            SystemdNotifier(environment: socket.merging(["WATCHDOG_PID": "8"]) { $1 }, pid: 7)?.watchdogInterval == nil
        )
        #expect(
            SystemdNotifier(environment: socket.merging(["WATCHDOG_USEC": "soon"]) { $1 }, pid: 7)?.watchdogInterval
                == nil
        )
    }
}
