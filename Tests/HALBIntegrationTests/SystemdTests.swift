import Foundation
import Glibc
import HALBTestSupport
import NIOConcurrencyHelpers
import Testing

/// A stand-in for systemd's notification socket: a unix datagram socket that collects what it receives, on a
/// thread of its own, until closed.
private final class NotifySocket: Sendable {
    let path: String
    private let descriptor: Int32
    private let messages = NIOLockedValueBox<[String]>([])

    init(path: String) throws {
        self.path = path
        self.descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard self.descriptor >= 0, bound == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        let descriptor = self.descriptor
        let messages = self.messages
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count <= 0 { return }
                messages.withLockedValue { $0.append(String(decoding: buffer[..<count], as: UTF8.self)) }
            }
        }
    }

    var all: [String] { self.messages.withLockedValue { $0 } }

    /// Ends the thread's wait and closes the socket.
    func close() {
        shutdown(self.descriptor, Int32(SHUT_RDWR))
        Glibc.close(self.descriptor)
    }
}

/// `halb device` and `halb console` as systemd units run them (`Type=notify`, `WatchdogSec=`, standard error to the
/// journal), against a stand-in for systemd's notification socket and journal stream.
@Suite struct SystemdTests {
    @Test func aDeviceSaysWhenItIsReadyFeedsTheWatchdogAndLogsWithThePriorityOfEachLevel() async throws {
        let gateway = try await TestServer.start(.echo())
        defer { Task { await gateway.kill() } }
        let refusing = try freePort()
        let directory = try TemporaryDirectory()
        let port = try freePort()
        let file = try directory.write(
            "site.yaml",
            """
            site: test
            gateways:
              - { name: gw1, address: 127.0.0.1, ports: { gateway: \(gateway.port) } }
              - { name: gw2, address: 127.0.0.1, ports: { gateway: \(refusing) } }
            devices:
              - { name: lb1, address: 127.0.0.1, interface: lo }
            virtualServers:
              - name: web
                vip: { ipv4: 127.0.0.1/8 }
                devices: [lb1]
                payloads:
                  gateway: { port: \(port) }
                healthCheck: { type: tcp, interval: 200ms, timeout: 100ms, rise: 1, fall: 1 }

            """
        )
        let socketPath = directory.url.appendingPathComponent("notify").path
        let notifications = try NotifySocket(path: socketPath)
        defer { notifications.close() }
        let device = try HALBProcess(
            executable: try halbExecutable(),
            arguments: ["device", "--config", file, "--name", "lb1", "--admin", "127.0.0.1:0"],
            environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "400000"],
            journal: true
        )
        defer { device.signal(SIGKILL) }
        // Ready once it serves and its first health checks are done; then the watchdog is fed every 0.2 s.
        #expect(await eventually { notifications.all.contains { $0.hasPrefix("READY=1\n") } }, "\(notifications.all)")
        let ready = try #require(notifications.all.first { $0.hasPrefix("READY=1") })
        #expect(ready.contains("STATUS=Serving 1 virtual servers, 1 of 2 gateways up"), "\(ready)")
        #expect(await accepts(port: port))
        #expect(await eventually { notifications.all.filter { $0 == "WATCHDOG=1" }.count >= 3 })
        device.signal(SIGTERM)
        #expect(await device.exitCode() == 0)
        #expect(notifications.all.last?.hasPrefix("STOPPING=1") == true, "\(notifications.all)")
        // Every line carries its priority and no time stamp (the journal has its own): a notice <5>, a warning <4>.
        let lines = device.text.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(
                line.wholeMatch(of: /<[2-7]>(trace|debug|info|notice|warning|error|critical): .+/) != nil,
                "\(line)"
            )
        }
        #expect(lines.contains { $0.hasPrefix("<5>notice: Device started ") }, "\(device.text)")
        #expect(lines.contains { $0.hasPrefix("<4>warning: Gateway is down ") }, "\(device.text)")
    }

    @Test func withoutAJournalTheLinesKeepTheirTimeStampAndNoPriority() async throws {
        let directory = try TemporaryDirectory()
        let console = try HALBProcess(
            executable: try halbExecutable(),
            arguments: ["console", "--data", directory.url.path, "--listen", "127.0.0.1:0"],
            // The variable names another file than standard error (a child that inherited it): ignored.
            environment: ["JOURNAL_STREAM": "1:1", "HALB_ADMIN_PASSWORD": "correct horse battery"]
        )
        defer { console.signal(SIGKILL) }
        #expect(await eventually { console.text.contains("Console listening") })
        let line = try #require(console.text.split(separator: "\n").first { $0.contains("Console listening") })
        #expect(line.hasPrefix("20"), "\(line)")  // a time stamp, 2026-…
        console.signal(SIGTERM)
        #expect(await console.exitCode() == 0)
    }

    @Test func aConsoleMakesItsSelfSignedCertificateAndWritesTheFirstPasswordToAnOwnerOnlyFile() async throws {
        let directory = try TemporaryDirectory()
        let certificate = directory.url.appendingPathComponent("console.pem").path
        let key = directory.url.appendingPathComponent("console.key").path
        let passwordFile = directory.url.appendingPathComponent("admin-password").path
        let socketPath = directory.url.appendingPathComponent("notify").path
        let notifications = try NotifySocket(path: socketPath)
        defer { notifications.close() }
        let port = try freePort()
        let console = try HALBProcess(
            executable: try halbExecutable(),
            arguments: [
                "console", "--data", directory.url.appendingPathComponent("data").path, "--listen",
                "127.0.0.1:\(port)", "--tls-certificate", certificate, "--tls-key", key, "--tls-self-signed",
                "--first-password-file", passwordFile,
            ],
            environment: ["NOTIFY_SOCKET": socketPath]
        )
        defer { console.signal(SIGKILL) }
        #expect(await eventually { notifications.all.contains { $0.hasPrefix("READY=1") } }, "\(console.text)")
        #expect(notifications.all.first?.contains("STATUS=Listening on https://127.0.0.1:\(port)") == true)
        let password = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(password.count >= 16)
        #expect(!console.text.contains(password), "the password reached the output")
        #expect(console.text.contains("its password is in the file"), "\(console.text)")
        for file in [passwordFile, key] {
            let permissions = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(permissions == 0o600, "\(file)")
        }
        // The console serves HTTPS with that certificate, which halb's own TLS (devices, admin commands) takes as the
        // CA of the console, and the password signs in.
        let login = try await runHALB(
            ["login", "--console", "https://localhost:\(port)", "--user", "admin", "--ca", certificate],
            environment: ["HALB_PASSWORD": password, "XDG_CONFIG_HOME": directory.url.path]
        )
        #expect(login.status == 0, "\(login.output)")
        console.signal(SIGTERM)
        #expect(await console.exitCode() == 0)
        // A second start keeps both: the certificate, and the store's admin (no new password file).
        let before = try String(contentsOfFile: certificate, encoding: .utf8)
        try FileManager.default.removeItem(atPath: passwordFile)
        let again = try HALBProcess(
            executable: try halbExecutable(),
            arguments: [
                "console", "--data", directory.url.appendingPathComponent("data").path, "--listen",
                "127.0.0.1:\(port)", "--tls-certificate", certificate, "--tls-key", key, "--tls-self-signed",
                "--first-password-file", passwordFile,
            ]
        )
        defer { again.signal(SIGKILL) }
        #expect(await eventually { again.text.contains("Console listening") }, "\(again.text)")
        #expect(try String(contentsOfFile: certificate, encoding: .utf8) == before)
        #expect(!FileManager.default.fileExists(atPath: passwordFile))
        again.signal(SIGTERM)
        #expect(await again.exitCode() == 0)
    }
}
