import HALBCore

/// A VMware OVF environment document (what `vmware-rpctool "info-get guestinfo.ovfEnv"` prints): the vApp
/// properties of this virtual machine, `<Property oe:key="halb.console" oe:value="https://…"/>`.
///
/// Read by a small bounded scanner, not an XML parser: it looks only at `Property` elements outside `Entity`
/// elements (those are the properties of other machines of a vApp), takes the attributes whose local names are
/// `key` and `value` (any namespace prefix), and decodes the five predefined entities and numeric character
/// references. A document type declaration is refused, so no entity can be defined. Properties not starting with
/// `halb.` are ignored; an unknown `halb.` property is an error; an empty value means "not set" (a vApp property
/// left blank).
public enum OVFEnvironment {
    /// The largest document.
    public static let maximumBytes = 64 << 10
    /// The most `Property` elements.
    public static let maximumProperties = 1000

    /// Reads the document in `path`.
    ///
    /// - Throws: ``ApplianceError`` naming the file or the property.
    public static func read(file path: String) throws(ApplianceError) -> ApplianceInput {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: Self.maximumBytes)
        } catch {
            throw .issue(path, error.description)
        }
        return try Self.parse(bytes)
    }

    /// Reads the settings from a document's text.
    ///
    /// - Throws: ``ApplianceError`` when the document is too large or malformed where the scanner reads, a `halb.`
    ///   property is unknown or given twice.
    public static func parse(_ text: String) throws(ApplianceError) -> ApplianceInput {
        try Self.parse(Array(text.utf8))
    }

    static func parse(_ bytes: [UInt8]) throws(ApplianceError) -> ApplianceInput {
        guard bytes.count <= Self.maximumBytes else {
            throw .issue(
                "ovf-env",
                "the document is \(bytes.count) bytes, more than the limit of \(Self.maximumBytes / 1024) KiB; refused"
            )
        }
        var scanner = OVFScanner(bytes)
        let properties = try scanner.properties()
        var input = ApplianceInput()
        var seen: Set<String> = []
        // A vApp property left blank means "not set", even when another gives the same key.
        for (key, value) in properties where key.hasPrefix("halb.") && !ApplianceValidation.trimmed(value).isEmpty {
            let name = String(key.dropFirst(5))
            guard let field = ApplianceField(rawValue: name) else {
                let known = ApplianceField.allCases.map { "halb.\($0.rawValue)" }.joined(separator: ", ")
                throw .issue(key, "unknown property; the properties are \(known)")
            }
            guard seen.insert(key).inserted else {
                throw .issue(key, "the property is given twice")
            }
            input[field] = value
        }
        return input
    }
}

/// Finds the `Property` elements of an OVF environment document and their `key` and `value` attributes.
struct OVFScanner {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private static let lessThan = UInt8(ascii: "<")
    private static let greaterThan = UInt8(ascii: ">")
    private static let slash = UInt8(ascii: "/")
    private static let equals = UInt8(ascii: "=")

    /// Every top-level property, in document order, values decoded.
    mutating func properties() throws(ApplianceError) -> [(key: String, value: String)] {
        var properties: [(key: String, value: String)] = []
        var entityDepth = 0
        while let start = self.find([Self.lessThan]) {
            self.index = start
            if self.starts(with: "<!--") {
                try self.skip(past: "-->", what: "comment")
            } else if self.starts(with: "<![CDATA[") {
                try self.skip(past: "]]>", what: "CDATA section")
            } else if self.starts(with: "<?") {
                try self.skip(past: "?>", what: "processing instruction")
            } else if self.starts(with: "<!") {
                throw Self.error("a document type declaration (<!DOCTYPE …>) is not allowed")
            } else if self.starts(with: "</") {
                self.index += 2
                let name = self.name()
                if Self.localName(name) == "Entity" { entityDepth = max(0, entityDepth - 1) }
                try self.skip(past: ">", what: "end tag </\(name)")
            } else {
                self.index += 1
                let element = try self.startTag()
                let local = Self.localName(element.name)
                if local == "Entity", !element.selfClosing { entityDepth += 1 }
                guard local == "Property", entityDepth == 0 else { continue }
                guard properties.count < OVFEnvironment.maximumProperties else {
                    throw Self.error("more than \(OVFEnvironment.maximumProperties) Property elements; refused")
                }
                guard let key = element.attributes.first(where: { Self.localName($0.name) == "key" })?.value else {
                    throw Self.error("a Property element has no key attribute")
                }
                let value = element.attributes.first { Self.localName($0.name) == "value" }?.value ?? ""
                properties.append((try Self.decode(key, in: "key"), try Self.decode(value, in: key)))
            }
        }
        return properties
    }

    /// A start tag's name and attributes (raw, not decoded), after its `<`; the index is left after its `>`.
    private mutating func startTag() throws(ApplianceError) -> (
        name: String, attributes: [(name: String, value: String)], selfClosing: Bool
    ) {
        let name = self.name()
        guard !name.isEmpty else { throw Self.error("a < that starts no element") }
        var attributes: [(name: String, value: String)] = []
        while true {
            self.skipSpaces()
            guard self.index < self.bytes.count else { throw Self.error("the element <\(name) is not closed") }
            let byte = self.bytes[self.index]
            if byte == Self.greaterThan {
                self.index += 1
                return (name, attributes, false)
            }
            if byte == Self.slash {
                guard self.index + 1 < self.bytes.count, self.bytes[self.index + 1] == Self.greaterThan else {
                    throw Self.error("a / in the element <\(name) that does not close it")
                }
                self.index += 2
                return (name, attributes, true)
            }
            let attribute = self.name()
            guard !attribute.isEmpty else { throw Self.error("the element <\(name) has a malformed attribute") }
            self.skipSpaces()
            guard self.index < self.bytes.count, self.bytes[self.index] == Self.equals else {
                throw Self.error("the attribute \(attribute) of <\(name) has no value")
            }
            self.index += 1
            self.skipSpaces()
            guard self.index < self.bytes.count,
                [UInt8(ascii: "\""), UInt8(ascii: "'")].contains(self.bytes[self.index])
            else {
                throw Self.error("the value of attribute \(attribute) of <\(name) is not quoted")
            }
            let quote = self.bytes[self.index]
            self.index += 1
            guard let end = self.find([quote]) else {
                throw Self.error("the value of attribute \(attribute) of <\(name) is not closed")
            }
            let raw = self.bytes[self.index..<end]
            guard !raw.contains(Self.lessThan) else {
                throw Self.error("the value of attribute \(attribute) of <\(name) holds a <")
            }
            attributes.append((attribute, String(decoding: raw, as: UTF8.self)))
            self.index = end + 1
        }
    }

    /// An element or attribute name (with its prefix) at the index; empty when there is none.
    private mutating func name() -> String {
        let start = self.index
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == Self.greaterThan || byte == Self.slash || byte == Self.equals || byte == Self.lessThan
                || Self.isSpace(byte) || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
            {
                break
            }
            self.index += 1
        }
        return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    }

    /// A name without its namespace prefix: `oe:key` → `key`.
    static func localName(_ name: String) -> Substring {
        name.split(separator: ":", omittingEmptySubsequences: false).last ?? Substring(name)
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private mutating func skipSpaces() {
        while self.index < self.bytes.count, Self.isSpace(self.bytes[self.index]) { self.index += 1 }
    }

    private func starts(with text: String) -> Bool {
        let pattern = Array(text.utf8)
        return self.bytes.count - self.index >= pattern.count
            && self.bytes[self.index..<(self.index + pattern.count)].elementsEqual(pattern)
    }

    /// The index of the next occurrence of `pattern` from the index.
    private func find(_ pattern: [UInt8]) -> Int? {
        guard !pattern.isEmpty, self.bytes.count >= pattern.count else { return nil }
        var position = self.index
        while position <= self.bytes.count - pattern.count {
            if self.bytes[position] == pattern[0],
                self.bytes[position..<(position + pattern.count)].elementsEqual(pattern)
            {
                return position
            }
            position += 1
        }
        return nil
    }

    private mutating func skip(past terminator: String, what: String) throws(ApplianceError) {
        guard let end = self.find(Array(terminator.utf8)) else { throw Self.error("a \(what) is not closed") }
        self.index = end + terminator.utf8.count
    }

    /// An attribute value with its entity and character references replaced.
    static func decode(_ raw: String, in property: String) throws(ApplianceError) -> String {
        guard raw.contains("&") else { return raw }
        var output = ""
        var rest = Substring(raw)
        while let ampersand = rest.firstIndex(of: "&") {
            output += rest[..<ampersand]
            rest = rest[ampersand...]
            // The longest reference is `&#x10FFFF;` (10 characters): a longer run without `;` is no reference.
            guard let semicolon = rest.prefix(12).firstIndex(of: ";") else {
                throw .issue(property, "\(DisplayText.quoted(String(rest.prefix(12)))) is an unterminated reference")
            }
            let reference = rest[rest.index(after: rest.startIndex)..<semicolon]
            output.unicodeScalars.append(try Self.scalar(reference, in: property))
            rest = rest[rest.index(after: semicolon)...]
        }
        return output + rest
    }

    private static func scalar(_ reference: Substring, in property: String) throws(ApplianceError) -> Unicode.Scalar {
        switch reference {
        case "amp": return "&"
        case "lt": return "<"
        case "gt": return ">"
        case "quot": return "\""
        case "apos": return "'"
        default: break
        }
        var number: UInt32?
        if reference.hasPrefix("#x") || reference.hasPrefix("#X") {
            number = UInt32(reference.dropFirst(2), radix: 16)
        } else if reference.hasPrefix("#") {
            number = UInt32(reference.dropFirst(1), radix: 10)
        }
        // XML's Char: no NUL, no other C0 control but tab, newline and carriage return.
        guard let number, number >= 0x20 || [0x09, 0x0A, 0x0D].contains(number),
            !reference.dropFirst().contains("+"), !reference.dropFirst().contains("-"),
            let scalar = Unicode.Scalar(number)
        else {
            throw .issue(property, "\(DisplayText.quoted("&\(reference);")) is not a character or entity reference")
        }
        return scalar
    }

    private static func error(_ message: String) -> ApplianceError { .issue("ovf-env", message) }
}
