import Foundation
import Logging

/// The log handler of every `halb` process: standard error, with every control character of a message or a
/// metadata value escaped (``DisplayText``), so that text from outside (a site field, a user name, a request) can
/// neither forge a log line with CR LF nor drive the terminal with ESC.
///
/// Under systemd, when standard error is the journal (`JOURNAL_STREAM` names it), each line starts with its syslog
/// priority (`<4>` for a warning, as sd-daemon(3) says) and carries no time stamp (the journal has its own), so that
/// `journalctl -p warning` shows the warnings and worse.
public struct EscapingLogHandler: LogHandler {
    private var inner: StreamLogHandler
    private let label: String
    private let journal: Bool

    public init(label: String, journal: Bool = false) {
        self.inner = StreamLogHandler.standardError(label: label)
        self.inner.logLevel = .trace
        self.label = label
        self.journal = journal
    }

    /// Bootstraps swift-log with this handler (once per process; only `halb`'s commands call it).
    public static func bootstrap() {
        let journal = Self.standardErrorIsTheJournal()
        LoggingSystem.bootstrap { label in EscapingLogHandler(label: label, journal: journal) }
    }

    /// Whether standard error is the journal's stream: `JOURNAL_STREAM` (`device:inode`) names the file standard
    /// error is (a child that inherited the variable but writes elsewhere keeps the plain format).
    public static func standardErrorIsTheJournal(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// The syslog priority of `level` (journald's, from `<N>` at the start of a line).
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(DisplayText.escaped(event.message.description, limit: Int.max))"
        event.metadata = event.metadata.map(Self.escaped)
        guard self.journal else {
            self.inner.log(event: event)
            return
        }
        var all = self.inner.metadata
        if let provided = self.inner.metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let metadata = event.metadata { all.merge(metadata) { _, new in new } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.escaped($0.value))" }
        let line =
            "<\(Self.priority(event.level))>\(event.level): \(event.message)"
            + (fields.isEmpty ? "" : " " + fields.joined(separator: " ")) + "\n"
        // One write per line: lines of several threads never interleave.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.inner[metadataKey: key] }
        set { self.inner[metadataKey: key] = newValue.map(Self.escaped) }
    }

    public var metadata: Logger.Metadata {
        get { self.inner.metadata }
        set { self.inner.metadata = Self.escaped(newValue) }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { self.inner.metadataProvider }
        set { self.inner.metadataProvider = newValue }
    }

    public var logLevel: Logger.Level {
        get { self.inner.logLevel }
        set { self.inner.logLevel = newValue }
    }

    public static func escaped(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.mapValues(Self.escaped)
    }

    public static func escaped(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(DisplayText.escaped(text, limit: 4096))
        case .stringConvertible(let value): .string(DisplayText.escaped(value.description, limit: 4096))
        case .array(let values): .array(values.map(Self.escaped))
        case .dictionary(let values): .dictionary(values.mapValues(Self.escaped))
        }
    }
}
