import CHALBLinux
import Foundation
import HALBTestSupport
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// The `halb` binary built next to the test bundle.
func halbExecutable() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("halb"),
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("halb"),
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/halb"),
    ]
    for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
        return candidate
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: candidates.map(\.path).joined(separator: ", ")])
}

/// The package's folder (README.md, docs/, examples/).
func packageRoot() -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// A running process (`halb`, or any command in a lab namespace) whose output is collected; killed when released.
final class HALBProcess: Sendable {
    let process: Process
    private let output = NIOLockedValueBox("")

    /// Runs `halb` with `arguments`, and `environment` added to the test's.
    convenience init(_ arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(executable: try halbExecutable(), arguments: arguments, environment: environment)
    }

    /// Runs `executable` with `arguments`, and `environment` added to the test's. `journal`: its standard error
    /// passes for systemd's journal (`JOURNAL_STREAM` names it, as systemd sets it for a service).
    init(executable: URL, arguments: [String], environment: [String: String] = [:], journal: Bool = false) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        var environment = environment
        if journal {
            var device: UInt64 = 0
            var inode: UInt64 = 0
            _ = chalb_fd_identity(pipe.fileHandleForWriting.fileDescriptor, &device, &inode)
            environment["JOURNAL_STREAM"] = "\(device):\(inode)"
        }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty {
                output.withLockedValue { $0 += String(decoding: data, as: UTF8.self) }
            }
        }
        try process.run()
    }

    var text: String { self.output.withLockedValue { $0 } }

    /// Waits for the process to exit, at most `timeout`; kills it when it does not. The bound is generous: CI starts
    /// every suite at once (a browser among them) on two cores, and a short command may wait long for a core.
    func exitCode(timeout: Duration = .seconds(60)) async -> Int32? {
        let exited = await eventually(timeout: timeout) { !self.process.isRunning }
        if !exited {
            self.process.interrupt()
            kill(self.process.processIdentifier, SIGKILL)
            return nil
        }
        return self.process.terminationStatus
    }

    func signal(_ signal: Int32) {
        kill(self.process.processIdentifier, signal)
    }

    deinit {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
    }
}

/// Runs `halb` with `arguments` to completion.
func runHALB(
    _ arguments: [String],
    environment: [String: String] = [:]
) async throws -> (status: Int32?, output: String) {
    try await finish(HALBProcess(arguments, environment: environment))
}

/// Runs `executable` (a path) with `arguments` to its end: its exit status and its output.
func runProgram(_ executable: String, _ arguments: [String]) async throws -> (status: Int32?, output: String) {
    try await finish(HALBProcess(executable: URL(fileURLWithPath: executable), arguments: arguments))
}

private func finish(_ process: HALBProcess) async -> (status: Int32?, output: String) {
    let status = await process.exitCode()
    try? await Task.sleep(for: .milliseconds(50))  // let the last output arrive
    return (status, process.text)
}

/// Whether a TCP server accepts connections on 127.0.0.1:`port` within 10 s.
func accepts(port: Int) async -> Bool {
    await eventually { (try? await TestClient.connect(port: port).run { _, _ in }) != nil }
}

/// Starts standalone device lb1 from `file` with its admin endpoint on a free port; returns it and that address.
func startDevice(file: String) async throws -> (process: HALBProcess, admin: String) {
    let device = try HALBProcess(["device", "--config", file, "--name", "lb1", "--admin", "127.0.0.1:0"])
    #expect(await eventually { device.text.contains("Admin endpoint listening") }, "\(device.text)")
    return (device, try #require(device.text.firstMatch(of: /admin\.address=(\S+)/)?.1).description)
}

/// A temporary directory removed when the test ends.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        self.url = FileManager.default.temporaryDirectory.appendingPathComponent("halb-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = self.url.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    deinit {
        try? FileManager.default.removeItem(at: self.url)
    }
}

/// One HTTP GET on `address` ("host:port") with `Connection: close`, returning the whole response.
func httpGet(_ address: String, _ path: String) async throws -> String {
    try await httpRequest("GET", address, path)
}

/// One HTTP request on `address` ("host:port") with `Connection: close`, returning the whole response.
func httpRequest(
    _ method: String,
    _ address: String,
    _ path: String,
    headers: [String: String] = [:],
    body: String = ""
) async throws -> String {
    let parts = address.split(separator: ":")
    let client = try await TestClient.connect(host: String(parts[0]), port: Int(parts[1])!)
    let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
    return try await withTimeout {
        try await client.run { inbound, outbound in
            try await outbound.write(
                ByteBuffer(
                    string:
                        "\(method) \(path) HTTP/1.1\r\nHost: test\r\n\(extra)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                )
            )
            var reader = inbound.makeAsyncIterator()
            var buffer = try await reader.readToEnd()
            return buffer.readString(length: buffer.readableBytes) ?? ""
        }
    }
}

/// A self-signed certificate with `CN=<name>` for `subjectAltName` and its key, made with openssl: (certificate, key).
func makeCertificate(
    in directory: TemporaryDirectory,
    name: String,
    subjectAltName: String = "IP:127.0.0.1"
) async throws -> (String, String) {
    let certificate = directory.url.appendingPathComponent("\(name).pem").path
    let key = directory.url.appendingPathComponent("\(name).key").path
    let openssl = try HALBProcess(
        executable: URL(fileURLWithPath: "/usr/bin/openssl"),
        arguments: [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
            "-out", certificate, "-days", "2", "-subj", "/CN=\(name)", "-addext", "subjectAltName=\(subjectAltName)",
        ]
    )
    guard await openssl.exitCode() == 0 else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: openssl.text])
    }
    return (certificate, key)
}
