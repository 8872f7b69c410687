import HALBCore
import Logging

/// The log handler of every `halb` process: standard error, with every control character of a message or a
/// metadata value escaped (``DisplayText``), so that text from outside (a site field, a user name, a request) can
/// neither forge a log line with CR LF nor drive the terminal with ESC.
struct EscapingLogHandler: LogHandler {
    private var inner: StreamLogHandler

    init(label: String) {
        self.inner = StreamLogHandler.standardError(label: label)
        self.inner.logLevel = .trace
    }

    /// Bootstraps swift-log with this handler (once per process; only `halb`'s commands call it).
    static func bootstrap() {
        LoggingSystem.bootstrap { label in EscapingLogHandler(label: label) }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(DisplayText.escaped(event.message.description, limit: Int.max))"
        event.metadata = event.metadata.map(Self.escaped)
        self.inner.log(event: event)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.inner[metadataKey: key] }
        set { self.inner[metadataKey: key] = newValue.map(Self.escaped) }
    }

    var metadata: Logger.Metadata {
        get { self.inner.metadata }
        set { self.inner.metadata = Self.escaped(newValue) }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { self.inner.metadataProvider }
        set { self.inner.metadataProvider = newValue }
    }

    var logLevel: Logger.Level {
        get { self.inner.logLevel }
        set { self.inner.logLevel = newValue }
    }

    static func escaped(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.mapValues(Self.escaped)
    }

    static func escaped(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(DisplayText.escaped(text, limit: 4096))
        case .stringConvertible(let value): .string(DisplayText.escaped(value.description, limit: 4096))
        case .array(let values): .array(values.map(Self.escaped))
        case .dictionary(let values): .dictionary(values.mapValues(Self.escaped))
        }
    }
}
