import ArgumentParser
import HALBBalancer
import HALBCore
import Logging
import NIOCore

/// Options every command that runs a device shares.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Admin endpoint (/metrics, /status, /healthz) as HOST:PORT.")
    var admin: String = "127.0.0.1:9100"

    @Option(name: .long, help: "How long to let connections finish on shutdown, e.g. 30s.")
    var drainTimeout: String = "30s"

    @Option(
        name: .long,
        help: "Relay threads for plain TCP, and as many event loops for the rest (default: one per CPU core)."
    )
    var threads: Int?

    @Option(
        name: .long,
        help: """
            Which code relays plain TCP: native (HALB's own epoll relay, splice(2) for bulk transfers) or nio \
            (SwiftNIO channels for every connection). TLS offload and SNI routing always use SwiftNIO.
            """
    )
    var dataPath: String = "native"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Self.hostPort(self.admin) != nil else {
            throw ValidationError("--admin \(self.admin) is not HOST:PORT (like 127.0.0.1:9100)")
        }
        guard HALBDurationParser.parse(self.drainTimeout) != nil else {
            throw ValidationError("--drain-timeout \(self.drainTimeout) is not a duration (like 30s)")
        }
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError(
                "--log-level \(self.logLevel) is not one of trace, debug, info, notice, warning, error, critical"
            )
        }
        guard DataPath(rawValue: self.dataPath) != nil else {
            throw ValidationError("--data-path \(self.dataPath) is not native or nio")
        }
        if let threads = self.threads, !(1...256).contains(threads) {
            throw ValidationError("--threads \(threads) is not 1-256")
        }
    }

    var adminHostPort: (host: String, port: Int) { Self.hostPort(self.admin)! }
    var drain: Duration { HALBDurationParser.parse(self.drainTimeout)! }
    var level: Logger.Level { Logger.Level(rawValue: self.logLevel)! }
    var threadCount: Int { self.threads ?? System.coreCount }
    var path: DataPath { DataPath(rawValue: self.dataPath)! }

    static func hostPort(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    func makeLogger() -> Logger {
        EscapingLogHandler.bootstrap()
        var logger = Logger(label: "halb")
        logger.logLevel = self.level
        return logger
    }
}

enum HALBDurationParser {
    static func parse(_ text: String) -> Duration? { HALBDuration(parsing: text)?.duration }
}
