import HALBCore

/// Gathers the issues of several checks.
struct IssueCollector {
    private(set) var issues: [ConfigurationIssue] = []

    /// The value `body` returns, or `nil` (and its issues kept) when it throws.
    mutating func collect<T>(_ body: () throws(ApplianceError) -> T) -> T? {
        do {
            return try body()
        } catch {
            self.issues += error.issues
            return nil
        }
    }
}
