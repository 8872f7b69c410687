import CHALBLinux
import Foundation
import Glibc
import HALBFailover
import Testing

/// What VRRP reads of an interface, read in the network namespace the process is in: in a container,
/// /sys/class/net may show another namespace's interfaces (systemd-nspawn does), and a VIP announced with their MAC
/// address is unreachable.
@Suite struct NetworkInterfaceTests {
    @Test(.enabled(if: getuid() == 0, "needs root (a network namespace)"))
    func theHardwareAddressIsTheOneOfThisNamespacesInterfaceNotOfSysfs() async throws {
        let namespace = "halb-if-\(getpid())"
        func ip(_ arguments: String...) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
        }
        try ip("netns", "add", namespace)
        defer { try? ip("netns", "del", namespace) }
        try ip(
            "-n",
            namespace,
            "link",
            "add",
            "halb-a",
            "address",
            "02:00:5e:10:20:30",
            "type",
            "veth",
            "peer",
            "name",
            "halb-b"
        )
        // This thread enters the namespace (setns changes only the calling thread); sysfs stays the test's.
        let found: (index: Int32, address: [UInt8])? = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let descriptor = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
                defer { close(descriptor) }
                guard descriptor >= 0, chalb_enter_network_namespace(descriptor) == 0,
                    let interface = try? NetworkInterface.named("halb-a")
                else {
                    continuation.resume(returning: nil)
                    return
                }
                continuation.resume(returning: (interface.index, interface.hardwareAddress))
            }
        }
        let interface = try #require(found, "halb-a not found from inside \(namespace)")
        #expect(interface.index > 0)
        #expect(interface.address == [0x02, 0x00, 0x5E, 0x10, 0x20, 0x30])
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/halb-a"), "sysfs shows the namespace")
    }

    @Test func loopbackHasNoHardwareAddress() throws {
        #expect(try NetworkInterface.named("lo").hardwareAddress == [0, 0, 0, 0, 0, 0])
    }
}
