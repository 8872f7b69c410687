import Foundation

/// A throw-away test network of Linux network namespaces: one namespace holding a bridge, and hosts linked to it
/// by veth pairs, on 192.0.2.0/24 and 2001:db8::/64 only and never linked to the root namespace. Needs root and `ip`. Everything is
/// removed by ``tearDown()``, which also runs when the lab is released.
final class NetworkLab: @unchecked Sendable {
    /// Whether this machine can run labs: root, with `ip`, `sysctl` and `python3`.
    static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sysctl")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    }

    let prefix: String
    private var namespaces: [String] = []
    /// Every process started here, kept alive (a released `HALBProcess` kills its process) until ``tearDown()``.
    private var processes: [HALBProcess] = []
    private var directories: [URL] = []
    private var bridgePorts: [String] = []
    private let lock = NSLock()

    /// Creates the bridge namespace; hosts are added with ``addHost(_:address:)``.
    init() throws {
        // Short, unique and recognisable: ip netns names end up in /run/netns.
        self.prefix = "halb\(getpid() % 100_000)x\(Int.random(in: 100...999))"
        try self.addNamespace("br")
        try self.ip("-n", self.namespace("br"), "link", "add", "br0", "type", "bridge")
        try self.ip("-n", self.namespace("br"), "link", "set", "br0", "up")
    }

    func namespace(_ host: String) -> String { "\(self.prefix)-\(host)" }

    /// A scratch directory for the lab's files, removed by ``tearDown()``.
    func makeDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-lab-\(self.prefix)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.lock.withLock { self.directories.append(directory) }
        return directory
    }

    /// Adds a host namespace with interface `eth0` at `address` (CIDR), and at `ipv6` (CIDR) if given, linked to
    /// the bridge.
    func addHost(_ host: String, address: String, ipv6: String? = nil) throws {
        try self.addNamespace(host)
        let outside = "\(self.prefix.suffix(6))\(host)".prefix(15)
        try self.ip(
            "link",
            "add",
            String(outside),
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            self.namespace(host)
        )
        try self.ip("link", "set", String(outside), "netns", self.namespace("br"))
        try self.ip("-n", self.namespace("br"), "link", "set", String(outside), "master", "br0")
        try self.ip("-n", self.namespace("br"), "link", "set", String(outside), "up")
        self.bridgePorts.append(String(outside))
        try self.ip("-n", self.namespace(host), "addr", "add", address, "dev", "eth0")
        if let ipv6 {
            try self.ip("-n", self.namespace(host), "addr", "add", ipv6, "dev", "eth0")
        }
        try self.ip("-n", self.namespace(host), "link", "set", "eth0", "up")
    }

    /// Stops the bridge from forwarding multicast (such as VRRP's 224.0.0.18) between hosts: a network without
    /// multicast.
    func blockMulticast() throws {
        try self.ip("-n", self.namespace("br"), "link", "set", "br0", "type", "bridge", "mcast_snooping", "1")
        for port in self.bridgePorts {
            try self.ip("-n", self.namespace("br"), "link", "set", port, "type", "bridge_slave", "mcast_flood", "off")
        }
    }

    /// Runs `arguments` in `host`'s namespace in the background, collecting its output.
    func spawn(_ host: String, _ arguments: [String]) throws -> HALBProcess {
        let process = try HALBProcess(
            executable: URL(fileURLWithPath: "/usr/sbin/ip"),
            arguments: ["netns", "exec", self.namespace(host)] + arguments
        )
        self.lock.withLock { self.processes.append(process) }
        return process
    }

    /// Runs `arguments` in `host`'s namespace to completion and returns its standard output.
    @discardableResult
    func run(_ host: String, _ arguments: [String]) throws -> String {
        try Self.execute(["/usr/sbin/ip", "netns", "exec", self.namespace(host)] + arguments)
    }

    /// The IPv4 and IPv6 addresses on `host`'s `eth0`.
    func addresses(of host: String) throws -> [String] {
        let output = try Self.execute(["/usr/sbin/ip", "-n", self.namespace(host), "-o", "addr", "show", "dev", "eth0"])
        return output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard let index = fields.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), index + 1 < fields.count
            else {
                return nil
            }
            return String(fields[index + 1].split(separator: "/")[0])
        }
    }

    /// Kills every process started here and deletes every namespace.
    func tearDown() {
        let processes = self.lock.withLock { () -> [Process] in
            defer { self.processes = [] }
            return self.processes.map(\.process)
        }
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        for namespace in self.namespaces.reversed() {
            let pids = (try? Self.execute(["/usr/sbin/ip", "netns", "pids", namespace])) ?? ""
            for pid in pids.split(separator: "\n") {
                if let pid = Int32(pid) { kill(pid, SIGKILL) }
            }
            _ = try? Self.execute(["/usr/sbin/ip", "netns", "del", namespace])
        }
        self.namespaces = []
        for directory in self.lock.withLock({ self.directories }) {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    deinit {
        self.tearDown()
    }

    private func addNamespace(_ host: String) throws {
        try self.ip("netns", "add", self.namespace(host))
        self.namespaces.append(self.namespace(host))
        try self.ip("-n", self.namespace(host), "link", "set", "lo", "up")
        // No duplicate address detection: the lab's IPv6 addresses (link-local ones too) work at once.
        try Self.execute([
            "/usr/sbin/ip", "netns", "exec", self.namespace(host), "/usr/sbin/sysctl", "-q", "-w",
            "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
        ])
    }

    private func ip(_ arguments: String...) throws {
        try Self.execute(["/usr/sbin/ip"] + arguments)
    }

    @discardableResult
    static func execute(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LabError(
                command: arguments.joined(separator: " "),
                output: String(decoding: errorData, as: UTF8.self)
            )
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct LabError: Error, CustomStringConvertible {
    var command: String
    var output: String
    var description: String { "\(self.command) failed: \(self.output)" }
}
