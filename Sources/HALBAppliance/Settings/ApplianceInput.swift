/// The appliance's settings as a source gave them, not yet checked: text per field, lists comma separated. A field
/// left empty is not set.
public struct ApplianceInput: Sendable, Hashable {
    /// The text of each field that is set.
    public private(set) var values: [ApplianceField: String] = [:]

    /// Creates an input with no field set.
    public init() {}

    /// Creates an input from field values (empty ones are left out).
    public init(_ values: [ApplianceField: String]) {
        for (field, value) in values { self[field] = value }
    }

    /// A field's text, trimmed, or `nil` when it is not set; setting empty text (or `nil`) unsets it.
    public subscript(field: ApplianceField) -> String? {
        get { self.values[field] }
        set {
            let text = newValue.map(ApplianceValidation.trimmed) ?? ""
            self.values[field] = text.isEmpty ? nil : text
        }
    }
}
