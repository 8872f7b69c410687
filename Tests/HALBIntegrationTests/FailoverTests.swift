import Foundation
import HALBTestSupport
import Testing

/// A gateway for the lab: answers every TCP connection on port 8080 with "gw\n".
let gatewayScript = """
    import socketserver
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                self.request.sendall(b"gw\\n")
            except OSError:
                pass
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("0.0.0.0", 8080), Handler) as server:
        server.serve_forever()
    """

/// Waits (at most 10 s) until the lab gateway accepts connections.
let waitForGatewayScript = """
    import socket, time
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("192.0.2.21", 8080), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    """

/// A client for the lab: opens a new connection to VIP:80 every 10 ms, `count` times, and prints
/// "<unix time> <1 if it got the gateway's answer, else 0>" for each.
private let clientScript = """
    import socket, sys, time
    vip, count = sys.argv[1], int(sys.argv[2])
    for i in range(count):
        start = time.time()
        ok = 0
        try:
            with socket.create_connection((vip, 80), timeout=0.1) as s:
                s.settimeout(0.3)
                ok = 1 if s.recv(16).startswith(b"gw") else 0
        except OSError:
            pass
        print("%.4f %d" % (start, ok), flush=True)
        time.sleep(max(0.0, 0.01 - (time.time() - start)))
    """

/// One attempt of the lab client.
private struct Attempt {
    var time: Double
    var ok: Bool
}

private func attempts(_ text: String) -> [Attempt] {
    text.split(separator: "\n").compactMap { line in
        let fields = line.split(separator: " ")
        guard fields.count == 2, let time = Double(fields[0]) else { return nil }
        return Attempt(time: time, ok: fields[1] == "1")
    }
}

/// How long before the failure an attempt may start and still be hit by it (an attempt lasts up to 0.4 s).
private let attemptSpan = 0.4

/// The client-visible outage after `moment`: from the first failed attempt to the first good one after it. Attempts
/// that started shortly before the moment count, as the failure may cut them.
private func outage(_ attempts: [Attempt], after moment: Double) -> Double? {
    guard let firstFailure = attempts.firstIndex(where: { $0.time >= moment - attemptSpan && !$0.ok }) else { return 0 }
    guard let recovery = attempts[firstFailure...].first(where: { $0.ok }) else { return nil }
    return recovery.time - attempts[firstFailure].time
}

/// Three devices serve one VIP in a lab of network namespaces; the primary fails in several ways.
@Suite(.serialized, .timeLimit(.minutes(2)), .enabled(if: NetworkLab.isAvailable, "needs root, ip and python3"))
struct FailoverTests {
    private static let vip = "192.0.2.100"

    private static let vip6 = "2001:db8::100"

    private func site(
        preempt: Bool = true,
        unicast: Bool = false,
        ipv6: Bool = false,
        devices: String = "lb1, lb2, lb3",
        acceptFrom: String = "peers"
    ) -> String {
        """
        site: lab
        gateways:
          - { name: gw1, address: 192.0.2.21, ports: { gateway: 8080 } }
        devices:
          - { name: lb1, address: 192.0.2.11, interface: eth0 }
          - { name: lb2, address: 192.0.2.12, interface: eth0 }
          - { name: lb3, address: 192.0.2.13, interface: eth0 }
        virtualServers:
          - name: web
            vip: { ipv4: \(Self.vip)/24\(ipv6 ? ", ipv6: \(Self.vip6)/64" : "") }
            vrrp: { routerId: 51, advertInterval: 100ms, preempt: \(preempt), unicast: \(unicast), acceptFrom: \(acceptFrom) }
            devices: [\(devices)]
            payloads:
              gateway: { port: 80, gateways: [gw1] }
            healthCheck: { type: tcp, interval: 500ms, timeout: 500ms, rise: 1, fall: 2 }
          # lb1 keeps a virtual server of its own, so a reload may take it out of web.
          - name: admin
            vip: { ipv4: 192.0.2.101/24 }
            devices: [lb1]
            payloads:
              gateway: { port: 81, gateways: [gw1] }

        """
    }

    /// Builds the lab, starts the gateway and three devices, and waits until lb1 is master.
    private func start(
        preempt: Bool = true,
        unicast: Bool = false,
        ipv6: Bool = false,
        acceptFrom: String = "peers"
    ) async throws -> (NetworkLab, [String: HALBProcess], String) {
        let lab = try NetworkLab()
        for (host, number) in [("lb1", 11), ("lb2", 12), ("lb3", 13), ("gw", 21), ("client", 31)] {
            try lab.addHost(host, address: "192.0.2.\(number)/24", ipv6: "2001:db8::\(number)/64")
        }
        let directory = try lab.makeDirectory()
        let file = directory.appendingPathComponent("site.yaml").path
        if unicast {
            // No multicast between the devices: only unicast advertisements can get through.
            try lab.blockMulticast()
        }
        try self.site(preempt: preempt, unicast: unicast, ipv6: ipv6, acceptFrom: acceptFrom)
            .write(toFile: file, atomically: true, encoding: .utf8)
        _ = try lab.spawn("gw", ["/usr/bin/python3", "-c", gatewayScript])
        // The gateway must answer before the devices start: otherwise every device starts with a failed health check
        // at priority 1 and the highest address, not the first device, becomes master.
        try lab.run("client", ["/usr/bin/python3", "-c", waitForGatewayScript])
        // The primary first, as when a site is brought up; then the others, which find it master (without preempt
        // the first device to finish starting would keep the VIP, whichever it is).
        var devices: [String: HALBProcess] = [:]
        devices["lb1"] = try self.startDevice("lb1", lab: lab, file: file)
        _ = await eventually(timeout: .seconds(15)) {
            self.isMaster(devices["lb1"]!) && (try? self.holders(lab)) == ["lb1"]
                && (!ipv6 || (try? self.holders(lab, of: Self.vip6)) == ["lb1"])
        }
        for name in ["lb2", "lb3"] {
            devices[name] = try self.startDevice(name, lab: lab, file: file)
        }
        for name in ["lb2", "lb3"] {
            let device = devices[name]!
            _ = await eventually(timeout: .seconds(15)) { device.text.contains("vrrp.to=backup") }
        }
        return (lab, devices, file)
    }

    /// Starts `name`; lb1 runs a notify command that appends its arguments to `notify.log` beside the site file.
    private func startDevice(_ name: String, lab: NetworkLab, file: String) throws -> HALBProcess {
        var arguments = [
            try halbExecutable().path, "device", "--config", file, "--name", name, "--drain-timeout", "1s",
        ]
        if name == "lb1" {
            let directory = URL(fileURLWithPath: file).deletingLastPathComponent()
            let script = directory.appendingPathComponent("notify.sh").path
            let log = directory.appendingPathComponent("notify.log").path
            try "#!/bin/sh\necho \"$@\" >> \(log)\n".write(toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o755)
            arguments += ["--notify", script]
        }
        return try lab.spawn(name, arguments)
    }

    private func notifications(_ file: String) -> [String] {
        let log = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("notify.log").path
        return ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    private func isMaster(_ device: HALBProcess) -> Bool {
        let transitions = device.text.components(separatedBy: "\n").filter { $0.contains("VRRP transition") }
        return transitions.last?.contains("vrrp.to=master") == true
    }

    /// Which lab devices hold the VIP (or `address`) now.
    private func holders(_ lab: NetworkLab, of address: String = Self.vip) throws -> [String] {
        try ["lb1", "lb2", "lb3"].filter { try lab.addresses(of: $0).contains(address) }
    }

    /// Runs the client for `count` attempts, does `failure` after `delay`, and returns the attempts and the moment.
    private func measure(
        _ lab: NetworkLab,
        vip: String = Self.vip,
        count: Int = 400,
        after delay: Duration = .seconds(1),
        _ failure: () throws -> Void
    ) async throws -> ([Attempt], Double) {
        let client = try lab.spawn("client", ["/usr/bin/python3", "-c", clientScript, vip, "\(count)"])
        try await Task.sleep(for: delay)
        let moment = Date().timeIntervalSince1970
        try failure()
        #expect(await eventually(timeout: .seconds(60)) { !client.process.isRunning })
        return (attempts(client.text), moment)
    }

    @Test func killingThePrimaryMovesTheVIPToTheNextDevice() async throws {
        let (lab, devices, _) = try await self.start()
        defer { lab.tearDown() }
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(devices["lb1"]!) }, "\(devices["lb1"]!.text)")
        #expect(await eventually { (try? self.holders(lab)) == ["lb1"] })

        let (attempts, moment) = try await self.measure(lab) { devices["lb1"]!.signal(SIGKILL) }
        #expect(attempts.count == 400)
        #expect(attempts.filter { $0.time < moment - attemptSpan }.allSatisfy { $0.ok })
        let gap = outage(attempts, after: moment)
        #expect(gap != nil, "no connection succeeded after the kill")
        #expect(attempts.last?.ok == true)
        print("failover after kill -9: outage \(Int((gap ?? -1) * 1000)) ms")

        #expect(self.isMaster(devices["lb2"]!), "\(devices["lb2"]!.text)")
        #expect(!self.isMaster(devices["lb3"]!))
        // The killed device could not release the VIP; its lease runs out within 2 s.
        #expect(await eventually { (try? self.holders(lab)) == ["lb2"] }, "\((try? self.holders(lab)) ?? [])")
    }

    @Test func aPrimaryStoppedWithSIGTERMResignsAndTheOldPrimaryTakesItBackOnReturn() async throws {
        let (lab, devices, file) = try await self.start(preempt: true)
        defer { lab.tearDown() }
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(devices["lb1"]!) })

        let (attempts, moment) = try await self.measure(lab) { devices["lb1"]!.signal(SIGTERM) }
        let gap = outage(attempts, after: moment)
        #expect(gap != nil)
        print("failover after SIGTERM: outage \(Int((gap ?? -1) * 1000)) ms")
        #expect(devices["lb1"]!.text.contains("shut down (resigned with priority 0)"))
        // The notify command ran on each of lb1's transitions.
        #expect(
            await eventually {
                self.notifications(file) == ["web BACKUP 200 ipv4", "web MASTER 200 ipv4", "web STOP 200 ipv4"]
            },
            "\(self.notifications(file))"
        )
        #expect(await eventually { self.isMaster(devices["lb2"]!) })
        #expect(try self.holders(lab) == ["lb2"])

        // The old primary returns: with preempt it takes the VIP back once its listeners and health checks are ready,
        // so new connections never fail. A connection open at the very moment the VIP moves (about 1 ms of each
        // 10 ms here) is reset by the new holder; so at most one attempt may fail.
        let (back, _) = try await self.measure(lab, count: 300, after: .milliseconds(200)) {
            _ = try self.startDevice("lb1", lab: lab, file: file)
        }
        let failed = back.filter { !$0.ok }
        print("old primary's return: \(failed.count) failed connections of \(back.count)")
        #expect(failed.count <= 1, "failed connections while the old primary returned: \(failed.map { "\($0.time)" })")
        #expect(try self.holders(lab) == ["lb1"])
    }
}

extension FailoverTests {
    @Test func withoutPreemptTheReturningPrimaryStaysBackup() async throws {
        let (lab, devices, file) = try await self.start(preempt: false)
        defer { lab.tearDown() }
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(devices["lb1"]!) })
        devices["lb1"]!.signal(SIGTERM)
        #expect(await eventually { self.isMaster(devices["lb2"]!) })
        let returned = try self.startDevice("lb1", lab: lab, file: file)
        #expect(await eventually { returned.text.contains("vrrp.to=backup") })
        try await Task.sleep(for: .seconds(1))  // well past its Master_Down_Interval
        #expect(!self.isMaster(returned), "\(returned.text)")
        #expect(try self.holders(lab) == ["lb2"])
    }

    @Test func unicastAdvertisementsWorkWithoutMulticast() async throws {
        let (lab, devices, _) = try await self.start(unicast: true)
        defer { lab.tearDown() }
        #expect(self.isMaster(devices["lb1"]!), "\(devices["lb1"]!.text)")
        // The others hear lb1 and stay backup: no split brain without multicast.
        try await Task.sleep(for: .seconds(1))
        #expect(!self.isMaster(devices["lb2"]!) && !self.isMaster(devices["lb3"]!), "\(devices["lb2"]!.text)")
        #expect(try self.holders(lab) == ["lb1"])
        devices["lb1"]!.signal(SIGKILL)
        #expect(await eventually { self.isMaster(devices["lb2"]!) })
        try await Task.sleep(for: .seconds(1))
        #expect(!self.isMaster(devices["lb3"]!))
    }

    @Test func pullingThePrimarysLinkMovesTheVIPAndRestoringItLeavesOneMaster() async throws {
        let (lab, devices, _) = try await self.start(preempt: true)
        defer { lab.tearDown() }
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(devices["lb1"]!) })
        let (attempts, moment) = try await self.measure(lab, count: 300) {
            try lab.run("lb1", ["/usr/sbin/ip", "link", "set", "eth0", "down"])
        }
        #expect(outage(attempts, after: moment) != nil, "no connection succeeded after the link went down")
        #expect(self.isMaster(devices["lb2"]!))
        // lb1 hears nobody on its dead link and stays master there. Once the link is back the two masters hear each
        // other: lb2 yields to lb1's higher priority (its socket, closed by the kernel's errors, was reopened).
        try lab.run("lb1", ["/usr/sbin/ip", "link", "set", "eth0", "up"])
        #expect(await eventually { (try? self.holders(lab)) == ["lb1"] }, "\((try? self.holders(lab)) ?? [])")
        #expect(await eventually { !self.isMaster(devices["lb2"]!) && !self.isMaster(devices["lb3"]!) })
        #expect(self.isMaster(devices["lb1"]!), "\(devices["lb1"]!.text)\n---\n\(devices["lb2"]!.text)")
    }
}

extension FailoverTests {
    @Test func anIPv6VIPMovesWithTheIPv4OneAndClientsFollowTheNeighbourAdvertisement() async throws {
        let (lab, devices, _) = try await self.start(ipv6: true)
        defer { lab.tearDown() }
        #expect(await eventually { (try? self.holders(lab, of: Self.vip6)) == ["lb1"] }, "\(devices["lb1"]!.text)")
        #expect(try self.holders(lab) == ["lb1"])

        // The client reaches the IPv6 VIP through lb1, so its neighbour cache points there. After the kill only
        // lb2's unsolicited neighbour advertisement can redirect it in time: the killed device's address lingers
        // until its lease runs out and answers with resets, and neighbour unreachability detection takes far longer
        // than the client runs.
        let (attempts, moment) = try await self.measure(lab, vip: Self.vip6) { devices["lb1"]!.signal(SIGKILL) }
        #expect(
            attempts.filter { $0.time < moment - attemptSpan }.allSatisfy { $0.ok },
            "IPv6 VIP not served before the kill"
        )
        let gap = outage(attempts, after: moment)
        #expect(gap != nil, "no IPv6 connection succeeded after the kill")
        #expect(attempts.last?.ok == true)
        print("IPv6 failover after kill -9: outage \(Int((gap ?? -1) * 1000)) ms")
        #expect(
            await eventually { (try? self.holders(lab, of: Self.vip6)) == ["lb2"] },
            "\((try? self.holders(lab, of: Self.vip6)) ?? [])"
        )
        #expect(try self.holders(lab) == ["lb2"])
        // Each family is its own virtual router, shown in /status.
        let status = try lab.run("lb2", ["/usr/bin/python3", "-c", statusScript, "http://127.0.0.1:9100/status"])
        #expect(status.contains("\"ipv6\"") && status.contains("\"ipv4\""), "\(status)")
    }

    @Test func reloadsChangeTheVirtualRoutersWithoutARestart() async throws {
        let (lab, devices, file) = try await self.start(preempt: true)
        defer { lab.tearDown() }
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(devices["lb1"]!) })

        // 1. A new device order: lb2 first. Only the priorities change; lb2 preempts.
        try self.site(devices: "lb2, lb1, lb3").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await eventually { (try? self.holders(lab)) == ["lb2"] }, "\(devices["lb2"]!.text)")
        #expect(self.isMaster(devices["lb2"]!))

        // 2. lb1 leaves the virtual server: it stops its virtual router and keeps serving its own.
        try self.site(devices: "lb2, lb3").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await eventually { devices["lb1"]!.text.contains("vrrp.to=initialize") }, "\(devices["lb1"]!.text)")
        #expect(try self.holders(lab) == ["lb2"])

        // 3. lb1 comes back first in line: its new virtual router starts as backup and preempts.
        try self.site(devices: "lb1, lb2, lb3").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await eventually { (try? self.holders(lab)) == ["lb1"] }, "\(devices["lb1"]!.text)")
        #expect(await eventually { self.isMaster(devices["lb1"]!) && !self.isMaster(devices["lb2"]!) })
        #expect(!devices["lb1"]!.text.contains("Cannot apply failover settings"))
    }

    /// `persistence: sourceIP` across a failover: nine clients (one address each) spread over three gateways, the
    /// primary is killed, and each client's reconnect through the new primary reaches the gateway it had.
    @Test func aClientReconnectingAfterThePrimaryDiesReachesTheSameGateway() async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        for (host, number) in [("lb1", 11), ("lb2", 12), ("gw", 21), ("client", 31)] {
            try lab.addHost(host, address: "192.0.2.\(number)/24")
        }
        for number in 32...39 {
            _ = try lab.run("client", ["/usr/sbin/ip", "addr", "add", "192.0.2.\(number)/24", "dev", "eth0"])
        }
        let gateways = """
            import socketserver, threading
            def serve(port, name):
                class Handler(socketserver.BaseRequestHandler):
                    def handle(self):
                        try:
                            self.request.sendall(name + b"\\n")
                        except OSError:
                            pass
                socketserver.ThreadingTCPServer.allow_reuse_address = True
                server = socketserver.ThreadingTCPServer(("0.0.0.0", port), Handler)
                threading.Thread(target=server.serve_forever).start()
            for number in (1, 2, 3):
                serve(8080 + number, b"gw%d" % number)
            """
        // Each client address connects once through the VIP and prints "<address> <gateway>".
        let probe = """
            import socket, sys
            for number in range(31, 40):
                source = "192.0.2.%d" % number
                try:
                    with socket.create_connection((sys.argv[1], 80), timeout=0.5, source_address=(source, 0)) as s:
                        s.settimeout(1)
                        print(source, s.recv(16).decode().strip(), flush=True)
                except OSError:
                    print(source, "-", flush=True)
            """
        let site = """
            site: lab
            gateways:
              - { name: gw1, address: 192.0.2.21, ports: { gateway: 8081 } }
              - { name: gw2, address: 192.0.2.21, ports: { gateway: 8082 } }
              - { name: gw3, address: 192.0.2.21, ports: { gateway: 8083 } }
            devices:
              - { name: lb1, address: 192.0.2.11, interface: eth0 }
              - { name: lb2, address: 192.0.2.12, interface: eth0 }
            virtualServers:
              - name: web
                vip: { ipv4: \(Self.vip)/24 }
                vrrp: { routerId: 52, advertInterval: 100ms }
                devices: [lb1, lb2]
                payloads:
                  gateway: { port: 80, balancing: roundrobin }
                healthCheck: { type: tcp, interval: 500ms, timeout: 500ms, rise: 1, fall: 2 }
                persistence: { type: sourceIP, timeout: 10m }

            """
        let file = try lab.makeDirectory().appendingPathComponent("site.yaml").path
        try site.write(toFile: file, atomically: true, encoding: .utf8)
        _ = try lab.spawn("gw", ["/usr/bin/python3", "-c", gateways])
        try lab.run(
            "client",
            ["/usr/bin/python3", "-c", waitForGatewayScript.replacingOccurrences(of: "8080", with: "8083")]
        )
        let lb1 = try lab.spawn("lb1", [try halbExecutable().path, "device", "--config", file, "--name", "lb1"])
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(lb1) }, "\(lb1.text)")
        let lb2 = try lab.spawn("lb2", [try halbExecutable().path, "device", "--config", file, "--name", "lb2"])
        #expect(await eventually(timeout: .seconds(15)) { lb2.text.contains("vrrp.to=backup") }, "\(lb2.text)")

        func placements() throws -> [String: String] {
            let lines = try lab.run("client", ["/usr/bin/python3", "-c", probe, Self.vip]).split(separator: "\n")
            return Dictionary(
                lines.map { line in
                    let fields = line.split(separator: " ")
                    return (String(fields.first ?? ""), String(fields.last ?? ""))
                }
            ) { first, _ in first }
        }
        let before = try placements()
        #expect(before.count == 9 && !before.values.contains("-"), "\(before)")
        // The clients spread (so the comparison below can fail), and each sticks to its gateway.
        #expect(Set(before.values).count > 1, "\(before)")
        #expect(try placements() == before)

        lb1.signal(SIGKILL)
        #expect(await eventually(timeout: .seconds(10)) { self.isMaster(lb2) }, "\(lb2.text)")
        var after: [String: String] = [:]
        #expect(
            await eventually(timeout: .seconds(10)) {
                after = (try? placements()) ?? [:]
                return after.count == 9 && !after.values.contains("-")
            }
        )
        #expect(after == before)
    }
}

/// A host that is not a device sends VRRPv3 advertisements for VRID 51 from argv[1] to 224.0.0.18: priority 254,
/// the VIP argv[2], Max_Adver_Interval 10 s, every 10 ms for 2 s.
private let rogueAdvertScript = """
    import socket, struct, sys, time
    source, vip, group = sys.argv[1], sys.argv[2], "224.0.0.18"
    def checksum(data):
        total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        return ~total & 0xFFFF
    body = struct.pack("!BBBBHH", 0x31, 51, 254, 1, 1000, 0) + socket.inet_aton(vip)
    pseudo = socket.inet_aton(source) + socket.inet_aton(group) + struct.pack("!BBH", 0, 112, len(body))
    packet = body[:6] + struct.pack("!H", checksum(pseudo + body)) + body[8:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
    for _ in range(200):
        s.sendto(packet, (group, 0))
        time.sleep(0.01)
    """

extension FailoverTests {
    @Test func aHostThatIsNotADeviceCannotTakeTheVIPWithPriority254() async throws {
        let (lab, devices, _) = try await self.start()
        defer { lab.tearDown() }
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(devices["lb1"]!) }, "\(devices["lb1"]!.text)")
        try lab.addHost("rogue", address: "192.0.2.66/24")
        try lab.run("rogue", ["/usr/bin/python3", "-c", rogueAdvertScript, "192.0.2.66", Self.vip])
        // Its adverts were dropped on every device: lb1 kept the VIP throughout, nobody changed state.
        #expect(try self.holders(lab) == ["lb1"])
        #expect(self.isMaster(devices["lb1"]!), "\(devices["lb1"]!.text)")
        for name in ["lb1", "lb2", "lb3"] {
            let text = devices[name]!.text
            #expect(text.contains("not a device of the virtual server dropped"), "\(name): \(text)")
            #expect(text.components(separatedBy: "VRRP transition").count - 1 == (name == "lb1" ? 2 : 1), "\(text)")
        }
    }

    @Test func withAcceptFromAnyAForeignMasterIsObeyedButCannotStretchTheOutage() async throws {
        let (lab, devices, _) = try await self.start(acceptFrom: "any")
        defer { lab.tearDown() }
        #expect(await eventually(timeout: .seconds(15)) { self.isMaster(devices["lb1"]!) }, "\(devices["lb1"]!.text)")
        try lab.addHost("rogue", address: "192.0.2.66/24")
        try lab.run("rogue", ["/usr/bin/python3", "-c", rogueAdvertScript, "192.0.2.66", Self.vip])
        // Plain VRRP: lb1 yielded to priority 254 (the adverts are valid ones).
        #expect(devices["lb1"]!.text.contains("higher priority 254"), "\(devices["lb1"]!.text)")
        // The rogue announced 10 s, but the devices adopted at most 200 ms: lb1 is back within a second or so of
        // the last advert, not after 30 s.
        let quiet = ContinuousClock.now
        #expect(await eventually(timeout: .seconds(3)) { (try? self.holders(lab)) == ["lb1"] })
        #expect(ContinuousClock.now - quiet < .seconds(3))
        #expect(devices["lb1"]!.text.contains("interval longer than the virtual router adopts"))
    }
}

/// Prints the body of an HTTP GET of the URL in argv[1].
let statusScript = """
    import sys, urllib.request
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
    """

/// A HALB device and keepalived share one virtual router (VRRPv3, VRID 51) and take turns as master.
@Suite(
    .serialized,
    .timeLimit(.minutes(2)),
    .enabled(if: NetworkLab.isAvailable, "needs root, ip and python3"),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/keepalived"), "needs keepalived")
)
struct KeepalivedInteropTests {
    private static let vip = "192.0.2.100"

    private func keepalivedConfiguration(priority: Int, preempt: Bool) -> String {
        """
        global_defs {
          vrrp_version 3
          script_user root
          enable_script_security
        }
        vrrp_instance web {
          state BACKUP
          interface eth0
          virtual_router_id 51
          priority \(priority)
          advert_int 0.1
          \(preempt ? "" : "nopreempt")
          virtual_ipaddress {
            \(Self.vip)/24
          }
        }

        """
    }

    private let site = """
        site: interop
        gateways:
          - { name: gw1, address: 192.0.2.21, ports: { gateway: 8080 } }
        devices:
          - { name: lb1, address: 192.0.2.11, interface: eth0 }
          # keepalived's host is listed with the address it advertises from, so the default acceptFrom: peers
          # obeys it (a keepalived the site does not list would need acceptFrom: any).
          - { name: keepalived, address: 192.0.2.12, interface: eth0 }
        virtualServers:
          - name: web
            vip: { ipv4: 192.0.2.100/24 }
            vrrp: { routerId: 51, advertInterval: 100ms, preempt: true }
            devices: [lb1, keepalived]
            payloads:
              gateway: { port: 80, gateways: [gw1] }
            healthCheck: { type: tcp, interval: 500ms, timeout: 500ms, rise: 1, fall: 2 }

        """

    private func lastTransition(_ device: HALBProcess) -> String? {
        device.text.components(separatedBy: "\n").last { $0.contains("VRRP transition") }
    }

    private func holders(_ lab: NetworkLab) throws -> [String] {
        try ["lb1", "ka"].filter { try lab.addresses(of: $0).contains(Self.vip) }
    }

    @Test func halbAndKeepalivedTakeTurnsAsMasterInBothDirections() async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        for (host, address) in [("lb1", "192.0.2.11/24"), ("ka", "192.0.2.12/24"), ("gw", "192.0.2.21/24")] {
            try lab.addHost(host, address: address)
        }
        let directory = try lab.makeDirectory()
        let siteFile = directory.appendingPathComponent("site.yaml").path
        try self.site.write(toFile: siteFile, atomically: true, encoding: .utf8)
        func startKeepalived(priority: Int, preempt: Bool, name: String) throws -> HALBProcess {
            let file = directory.appendingPathComponent("\(name).conf").path
            try self.keepalivedConfiguration(priority: priority, preempt: preempt).write(
                toFile: file,
                atomically: true,
                encoding: .utf8
            )
            return try lab.spawn(
                "ka",
                [
                    "/usr/sbin/keepalived", "-n", "-l", "-D", "-f", file,
                    "-p", directory.appendingPathComponent("\(name).pid").path,
                    "-r", directory.appendingPathComponent("\(name)-vrrp.pid").path,
                ]
            )
        }
        _ = try lab.spawn("gw", ["/usr/bin/python3", "-c", gatewayScript])
        try lab.run("ka", ["/usr/bin/python3", "-c", waitForGatewayScript])

        // 1. keepalived (priority 250) is master; HALB (200) sees its adverts as valid and stays backup.
        let keepalived = try startKeepalived(priority: 250, preempt: true, name: "first")
        #expect(await eventually { keepalived.text.contains("Entering MASTER STATE") }, "\(keepalived.text)")
        let halb = try lab.spawn("lb1", [try halbExecutable().path, "device", "--config", siteFile, "--name", "lb1"])
        #expect(await eventually { self.lastTransition(halb)?.contains("vrrp.to=backup") == true }, "\(halb.text)")
        try await Task.sleep(for: .seconds(1))  // over twice the Master_Down_Interval
        #expect(self.lastTransition(halb)?.contains("vrrp.to=backup") == true, "\(halb.text)")
        // keepalived stayed master: no backup state after it first became master.
        let sinceMaster = keepalived.text.components(separatedBy: "Entering MASTER STATE").dropFirst().joined()
        #expect(!sinceMaster.contains("Entering BACKUP STATE"), "\(keepalived.text)")
        #expect(try self.holders(lab) == ["ka"])

        // 2. keepalived stops (it resigns with priority 0): HALB takes over.
        keepalived.signal(SIGTERM)
        #expect(
            await eventually { self.lastTransition(halb)?.contains("the master resigned (priority 0)") == true },
            "\(halb.text)"
        )
        #expect(await eventually { (try? self.holders(lab)) == ["lb1"] })

        // 3. keepalived returns with a higher priority and preempts: HALB yields to it.
        let returning = try startKeepalived(priority: 250, preempt: true, name: "second")
        #expect(await eventually { returning.text.contains("Entering MASTER STATE") }, "\(returning.text)")
        #expect(await eventually { self.lastTransition(halb)?.contains("higher priority 250") == true }, "\(halb.text)")
        #expect(await eventually { (try? self.holders(lab)) == ["ka"] })
        returning.signal(SIGTERM)
        #expect(await eventually { (try? self.holders(lab)) == ["lb1"] })

        // 4. The other way round: keepalived (100) is backup to HALB, and takes over when HALB stops.
        let backup = try startKeepalived(priority: 100, preempt: false, name: "third")
        #expect(await eventually { backup.text.contains("Entering BACKUP STATE") }, "\(backup.text)")
        try await Task.sleep(for: .seconds(1))
        #expect(!backup.text.contains("Entering MASTER STATE"), "\(backup.text)")
        #expect(try self.holders(lab) == ["lb1"])
        halb.signal(SIGTERM)
        #expect(await eventually { backup.text.contains("Entering MASTER STATE") }, "\(backup.text)")
        #expect(await eventually { (try? self.holders(lab)) == ["ka"] })
    }
}

extension KeepalivedInteropTests {
    @Test func keepalivedAcceptsHALBsIPv6AdvertisementsAndTakesOverBothFamilies() async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        for (host, number) in [("lb1", 11), ("ka", 12), ("gw", 21)] {
            try lab.addHost(host, address: "192.0.2.\(number)/24", ipv6: "2001:db8::\(number)/64")
        }
        let directory = try lab.makeDirectory()
        let siteFile = directory.appendingPathComponent("site.yaml").path
        try self.site.replacingOccurrences(of: "192.0.2.100/24 }", with: "192.0.2.100/24, ipv6: 2001:db8::100/64 }")
            .write(toFile: siteFile, atomically: true, encoding: .utf8)
        _ = try lab.spawn("gw", ["/usr/bin/python3", "-c", gatewayScript])
        try lab.run("ka", ["/usr/bin/python3", "-c", waitForGatewayScript])
        let halb = try lab.spawn("lb1", [try halbExecutable().path, "device", "--config", siteFile, "--name", "lb1"])
        func holders(_ address: String) -> [String] {
            ["lb1", "ka"].filter { (try? lab.addresses(of: $0).contains(address)) == true }
        }
        #expect(
            await eventually { holders("2001:db8::100") == ["lb1"] && holders(Self.vip) == ["lb1"] },
            "\(halb.text)"
        )

        // keepalived (priority 100, IPv4 and IPv6 instances of VRID 51) hears HALB's adverts of both families as
        // valid: it stays backup, well past its Master_Down_Interval.
        let conf =
            self.keepalivedConfiguration(priority: 100, preempt: false) + """
                vrrp_instance web6 {
                  state BACKUP
                  interface eth0
                  virtual_router_id 51
                  priority 100
                  advert_int 0.1
                  nopreempt
                  virtual_ipaddress {
                    2001:db8::100/64
                  }
                }

                """
        let file = directory.appendingPathComponent("dual.conf").path
        try conf.write(toFile: file, atomically: true, encoding: .utf8)
        let keepalived = try lab.spawn(
            "ka",
            [
                "/usr/sbin/keepalived", "-n", "-l", "-D", "-f", file,
                "-p", directory.appendingPathComponent("dual.pid").path,
                "-r", directory.appendingPathComponent("dual-vrrp.pid").path,
            ]
        )
        #expect(await eventually { keepalived.text.contains("(web6) Entering BACKUP STATE") }, "\(keepalived.text)")
        try await Task.sleep(for: .seconds(1))
        #expect(!keepalived.text.contains("Entering MASTER STATE"), "\(keepalived.text)")
        #expect(holders("2001:db8::100") == ["lb1"])

        // HALB stops and resigns in both families: keepalived takes both VIPs.
        halb.signal(SIGTERM)
        #expect(await eventually { keepalived.text.contains("(web6) Entering MASTER STATE") }, "\(keepalived.text)")
        #expect(await eventually { holders("2001:db8::100") == ["ka"] && holders(Self.vip) == ["ka"] })
    }
}
