import Foundation

/// A JSON value, decoded so that booleans, integers and other numbers stay apart (the schemas tell them apart).
indirect enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses JSON text.
    init(json data: Data) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Converts what Yams loads (`Bool`, `Int`, `Double`, `String`, arrays, dictionaries, `NSNull`).
    init(yaml value: Any?) throws {
        switch value {
        case .none, is NSNull: self = .null
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .integer(Int64(value))
        case let value as Double: self = .number(value)
        case let value as String: self = .string(value)
        case let value as [Any]: self = .array(try value.map { try JSONValue(yaml: $0) })
        case let value as [String: Any]: self = .object(try value.mapValues { try JSONValue(yaml: $0) })
        case let value?: throw JSONSchemaValidator.Unsupported(what: "YAML value \(value) of \(type(of: value))")
        }
    }

    subscript(key: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields[key]
    }

    var string: String? {
        guard case .string(let text) = self else { return nil }
        return text
    }

    /// The value as JSON text (keys sorted).
    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .integer(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): Self.quoted(value)
        case .array(let items): "[\(items.map(\.description).joined(separator: ", "))]"
        case .object(let fields):
            "{\(fields.keys.sorted().map { "\(Self.quoted($0)): \(fields[$0]!)" }.joined(separator: ", "))}"
        }
    }

    private static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case _ where scalar.value < 0x20: output += String(format: "\\u%04x", scalar.value)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }
}

/// Validates JSON values against the schemas of an OpenAPI 3.0 document, for the subset docs/openapi.yaml uses:
/// `$ref` (within the document), `type`, `nullable`, `enum`, `properties`, `required`, `additionalProperties`
/// (`false` or a schema), `items`, `minItems`, `allOf`, `oneOf`, `minimum`, `maximum`, `minLength`, `pattern`.
/// `format`, `description`, `example` and `default` are ignored. Any other keyword is reported as an error, so a
/// schema the validator does not understand cannot pass unchecked.
struct JSONSchemaValidator {
    struct Unsupported: Error, CustomStringConvertible {
        var what: String
        var description: String { "unsupported: \(self.what)" }
    }

    /// The whole document, for `$ref`.
    let document: JSONValue

    private static let ignored: Set<String> = ["description", "example", "format", "default", "title"]
    private static let understood: Set<String> = [
        "$ref", "type", "nullable", "enum", "properties", "required", "additionalProperties", "items", "minItems",
        "allOf", "oneOf", "minimum", "maximum", "minLength", "pattern",
    ]

    /// The schema `#/components/schemas/name` (or any `#/...` pointer).
    func resolve(_ reference: String) throws -> JSONValue {
        guard reference.hasPrefix("#/") else { throw Unsupported(what: "$ref \(reference)") }
        var node = self.document
        for token in reference.dropFirst(2).split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node[key] else { throw Unsupported(what: "unresolved $ref \(reference)") }
            node = next
        }
        return node
    }

    /// Every way `value` breaks `schema`, each with the path of the value (`$.virtualServers[0].vrrp`), empty when
    /// it conforms; and the fields of named schemas it has (`Gateway.weight`), for the coverage of a test.
    func validate(_ value: JSONValue, against schema: JSONValue) throws -> (errors: [String], seen: Set<String>) {
        var seen: Set<String> = []
        let errors = try self.errors(of: value, against: schema, at: "$", in: "", seen: &seen)
        return (errors, seen)
    }

    private func errors(
        of value: JSONValue,
        against schema: JSONValue,
        at path: String,
        in name: String,
        seen: inout Set<String>
    ) throws -> [String] {
        guard case .object(let keywords) = schema else { throw Unsupported(what: "schema \(schema) at \(path)") }
        for key in keywords.keys where !Self.understood.contains(key) && !Self.ignored.contains(key) {
            throw Unsupported(what: "keyword \(key) at \(path)")
        }
        if let reference = keywords["$ref"]?.string {
            let target = String(reference.split(separator: "/").last ?? "")
            return try self.errors(of: value, against: try self.resolve(reference), at: path, in: target, seen: &seen)
        }
        if value == .null {
            return keywords["nullable"] == .bool(true) ? [] : ["\(path): null is not allowed"]
        }
        var errors: [String] = []
        if case .array(let schemas)? = keywords["allOf"] {
            for schema in schemas {
                errors += try self.errors(of: value, against: schema, at: path, in: name, seen: &seen)
            }
        }
        if case .array(let schemas)? = keywords["oneOf"] {
            // Only the branch that matches counts for coverage.
            var results: [[String]] = []
            for schema in schemas {
                var branch: Set<String> = []
                results.append(try self.errors(of: value, against: schema, at: path, in: name, seen: &branch))
                if results.last!.isEmpty { seen.formUnion(branch) }
            }
            let matches = results.filter(\.isEmpty).count
            if matches != 1 {
                errors.append(
                    "\(path): matches \(matches) of the oneOf schemas instead of one"
                        + (matches == 0
                            ? " (\(results.map { $0.joined(separator: "; ") }.joined(separator: " | ")))" : "")
                )
            }
        }
        if let type = keywords["type"]?.string, !Self.value(value, hasType: type) {
            return errors + ["\(path): \(value) is not of type \(type)"]
        }
        if case .array(let choices)? = keywords["enum"], !choices.contains(value) {
            errors.append("\(path): \(value) is not one of \(choices)")
        }
        errors += try self.numberErrors(of: value, keywords, at: path)
        if case .string(let text) = value {
            if case .integer(let minimum)? = keywords["minLength"], text.count < minimum {
                errors.append("\(path): \(value) is shorter than \(minimum)")
            }
            if let pattern = keywords["pattern"]?.string {
                let expression = try NSRegularExpression(pattern: pattern)
                if expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                    errors.append("\(path): \(value) does not match \(pattern)")
                }
            }
        }
        if case .array(let items) = value {
            if case .integer(let minimum)? = keywords["minItems"], items.count < minimum {
                errors.append("\(path): \(items.count) items, fewer than \(minimum)")
            }
            if let itemSchema = keywords["items"] {
                for (index, item) in items.enumerated() {
                    errors += try self.errors(
                        of: item,
                        against: itemSchema,
                        at: "\(path)[\(index)]",
                        in: name + "[]",
                        seen: &seen
                    )
                }
            }
        }
        if case .object(let fields) = value {
            errors += try self.objectErrors(of: fields, keywords, at: path, in: name, seen: &seen)
        }
        return errors
    }

    private func numberErrors(of value: JSONValue, _ keywords: [String: JSONValue], at path: String) throws -> [String]
    {
        let number: Double
        switch value {
        case .integer(let integer): number = Double(integer)
        case .number(let double): number = double
        default: return []
        }
        var errors: [String] = []
        if let minimum = Self.double(keywords["minimum"]), number < minimum {
            errors.append("\(path): \(value) is less than \(minimum)")
        }
        if let maximum = Self.double(keywords["maximum"]), number > maximum {
            errors.append("\(path): \(value) is more than \(maximum)")
        }
        return errors
    }

    private func objectErrors(
        of fields: [String: JSONValue],
        _ keywords: [String: JSONValue],
        at path: String,
        in name: String,
        seen: inout Set<String>
    ) throws -> [String] {
        var errors: [String] = []
        guard case .object(let properties) = keywords["properties"] ?? .object([:]) else {
            throw Unsupported(what: "properties at \(path)")
        }
        if case .array(let required)? = keywords["required"] {
            for case .string(let key) in required where fields[key] == nil {
                errors.append("\(path): required field \(key) is missing")
            }
        }
        for key in fields.keys.sorted() {
            let field = fields[key]!
            if let schema = properties[key] {
                seen.insert("\(name).\(key)")
                errors += try self.errors(
                    of: field,
                    against: schema,
                    at: "\(path).\(key)",
                    in: "\(name).\(key)",
                    seen: &seen
                )
                continue
            }
            switch keywords["additionalProperties"] {
            case .bool(false)?:
                errors.append("\(path): field \(key) is not in the schema")
            case .object(let schema)?:
                errors += try self.errors(
                    of: field,
                    against: .object(schema),
                    at: "\(path).\(key)",
                    in: "\(name).*",
                    seen: &seen
                )
            default:
                break
            }
        }
        return errors
    }

    private static func value(_ value: JSONValue, hasType type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool),
            ("integer", .integer), ("number", .integer), ("number", .number):
            true
        default:
            false
        }
    }

    private static func double(_ value: JSONValue?) -> Double? {
        switch value {
        case .integer(let integer)?: Double(integer)
        case .number(let double)?: double
        default: nil
        }
    }
}
