/// One setting of the appliance, named as user-data's `halb:` mapping names it (the OVF property is `halb.` and
/// this name).
public enum ApplianceField: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case hostname
    case name
    case address
    case gateway
    case dns
    case console
    case consoleCASHA256 = "console_ca_sha256"
    case joinToken = "join_token"

    /// The setting's name, as sources and errors write it.
    public var description: String { self.rawValue }

    /// Every setting's name, for errors that list them.
    static var names: String { Self.allCases.map(\.rawValue).joined(separator: ", ") }
}
