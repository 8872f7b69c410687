import HALBCore

/// A cloud-init NoCloud seed, as a mounted `cidata` volume holds it: `meta-data` and `user-data`.
///
/// `user-data` is a `#cloud-config` document whose `halb:` mapping gives the settings (keys as
/// ``ApplianceField`` names them; `address`, `gateway` and `dns` may be a list or comma-separated text); a key
/// there that is not a setting is an error, so that a typo is not silently ignored. The host name is `halb.hostname`,
/// else user-data's top-level `hostname`, else meta-data's `local-hostname`. Other keys are cloud-init's and ignored.
public enum NoCloudSeed {
    /// The largest `meta-data` or `user-data` file.
    public static let maximumFileBytes = 64 << 10

    /// The bounds both documents are parsed within: a "billion laughs" of aliases is refused while it is read.
    static let limits = DocumentLimits(
        maximumBytes: Self.maximumFileBytes,
        maximumDepth: 32,
        maximumNodes: 50_000,
        maximumItems: 10_000
    )

    /// Reads `directory/meta-data` (optional) and `directory/user-data`.
    ///
    /// - Throws: ``ApplianceError`` naming the file: missing, too large, not YAML, or with an unknown `halb:` key.
    public static func read(directory: String) throws(ApplianceError) -> ApplianceInput {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let userData: String
        do {
            userData = try BoundedFile.readText("\(base)/user-data", limit: Self.maximumFileBytes)
        } catch {
            throw .issue("\(base)/user-data", error.description)
        }
        var metaData: String?
        do {
            metaData = try BoundedFile.readText("\(base)/meta-data", limit: Self.maximumFileBytes)
        } catch .missing {
            metaData = nil
        } catch {
            throw .issue("\(base)/meta-data", error.description)
        }
        return try Self.parse(metaData: metaData, userData: userData)
    }

    /// Reads the settings from the text of `meta-data` (if any) and `user-data`.
    ///
    /// - Throws: ``ApplianceError`` naming the document (`meta-data`, `user-data`) and the key.
    public static func parse(metaData: String?, userData: String) throws(ApplianceError) -> ApplianceInput {
        let firstLine = userData.prefix { $0 != "\n" && $0 != "\r\n" }
        guard ApplianceValidation.trimmed(String(firstLine)) == "#cloud-config" else {
            throw .issue(
                "user-data",
                "does not start with #cloud-config (its first line is \(DisplayText.quoted(String(firstLine.prefix(40)))))"
            )
        }
        let user = try Self.mapping(userData, document: "user-data")
        var input = ApplianceInput()
        if let halb = user.first(where: { $0.key == "halb" })?.value {
            switch halb {
            case .null:
                break
            case .mapping(let entries):
                for entry in entries {
                    guard let field = ApplianceField(rawValue: entry.key) else {
                        throw .issue(
                            "user-data",
                            "halb.\(entry.key): unknown key; the keys of halb: are \(ApplianceField.names)"
                        )
                    }
                    input[field] = try Self.text(
                        entry.value,
                        at: "halb.\(entry.key)",
                        listAllowed: [.address, .gateway, .dns].contains(field)
                    )
                }
            default:
                throw .issue("user-data", "halb: is not a mapping of settings (hostname, console, join_token, …)")
            }
        }
        if input[.hostname] == nil, let entry = user.first(where: { $0.key == "hostname" }) {
            input[.hostname] = try Self.text(entry.value, at: "hostname", listAllowed: false)
        }
        if input[.hostname] == nil, let metaData {
            let meta = try Self.mapping(metaData, document: "meta-data")
            if let entry = meta.first(where: { $0.key == "local-hostname" }) {
                do {
                    input[.hostname] = try Self.text(entry.value, at: "local-hostname", listAllowed: false)
                } catch {
                    throw .issue("meta-data", error.issues.map(\.message).joined(separator: "; "))
                }
            }
        }
        return input
    }

    /// The top-level entries of a YAML document (none for an empty one).
    private static func mapping(_ text: String, document: String) throws(ApplianceError) -> [ConfigEntry] {
        let node: ConfigNode
        do {
            node = try ConfigNode.parse(yaml: text, limits: Self.limits)
        } catch {
            throw ApplianceError(
                issues: error.issues.map { ConfigurationIssue(path: document, message: $0.description) }
            )
        }
        switch node {
        case .null: return []
        case .mapping(let entries): return entries
        default: throw .issue(document, "is not a YAML mapping")
        }
    }

    /// A value's text: a scalar's, or for a list field, its items joined by commas.
    private static func text(_ node: ConfigNode, at key: String, listAllowed: Bool) throws(ApplianceError) -> String? {
        switch node {
        case .null:
            return nil
        case .scalar(let text, _):
            return text
        case .sequence(let items) where listAllowed:
            var texts: [String] = []
            for (index, item) in items.enumerated() {
                guard case .scalar(let text, _) = item else {
                    throw .issue("user-data", "\(key)[\(index)]: is not a single value")
                }
                texts.append(text)
            }
            return texts.joined(separator: ",")
        case .sequence:
            throw .issue("user-data", "\(key): is a list; give one value")
        case .mapping:
            throw .issue("user-data", "\(key): is a mapping; give one value")
        }
    }
}
