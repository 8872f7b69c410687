/// The `KEY=value` lines of `/etc/halb/device.conf`, as systemd's `EnvironmentFile=` reads them: comments (`#`,
/// `;`) and blank lines skipped, one pair of surrounding quotes taken off.
public struct DeviceConf: Sendable, Hashable {
    /// The largest file read.
    public static let maximumBytes = 64 << 10

    /// Each key's value (the last one given wins).
    public var values: [String: String]

    /// Reads the lines of `text`.
    public init(parsing text: String) {
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = ApplianceValidation.trimmed(String(rawLine))
            guard !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix(";"), let equals = line.firstIndex(of: "=")
            else { continue }
            var key = Substring(line[..<equals])
            if key.hasPrefix("export ") { key = key.dropFirst(7) }
            var value = Substring(ApplianceValidation.trimmed(String(line[line.index(after: equals)...])))
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = value.dropFirst().dropLast()
            }
            values[ApplianceValidation.trimmed(String(key))] = String(value)
        }
        self.values = values
    }

    /// Reads the file at `path`; `nil` when it is missing, unreadable or larger than ``maximumBytes``.
    public static func read(path: String) -> DeviceConf? {
        guard let text = try? BoundedFile.readText(path, limit: Self.maximumBytes) else { return nil }
        return DeviceConf(parsing: text)
    }

    /// `HALB_NAME`, when set.
    public var name: String? { self.values["HALB_NAME"].flatMap { $0.isEmpty ? nil : $0 } }
    /// `HALB_CONSOLE`, when set.
    public var console: String? { self.values["HALB_CONSOLE"].flatMap { $0.isEmpty ? nil : $0 } }
    /// `HALB_CONSOLE_CA_SHA256`, when set.
    public var consoleCASHA256: String? {
        self.values["HALB_CONSOLE_CA_SHA256"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
