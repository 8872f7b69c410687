import HALBCore

/// Why the appliance cannot be configured: every problem found, each naming its field (or the file or option it is
/// in) and the offending value, such as `address: "192.0.2.300/24" is not an IPv4 or IPv6 address with a prefix
/// length`.
public struct ApplianceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every problem, in the order the settings are checked.
    public var issues: [ConfigurationIssue]

    /// Creates an error from its issues.
    public init(issues: [ConfigurationIssue]) {
        self.issues = issues
    }

    /// One problem with `field` (a setting, a file or an option; empty for none).
    public static func issue(_ field: String, _ message: String) -> ApplianceError {
        ApplianceError(issues: [ConfigurationIssue(path: field, message: message)])
    }

    /// One problem with a setting.
    public static func invalid(_ field: ApplianceField, _ message: String) -> ApplianceError {
        .issue(field.rawValue, message)
    }

    /// One problem per line, `field: message`.
    public var description: String { self.issues.map(\.description).joined(separator: "\n") }
}
