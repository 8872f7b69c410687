/// Reads JSON (RFC 8259) into a ``ConfigNode``, within ``DocumentLimits``.
///
/// Numbers keep their text as written (`1e3` stays `1e3`) and are plain scalars, as are `true` and `false`;
/// strings are quoted scalars; `null` is ``ConfigNode/null``. A duplicate key is an error (RFC 8259 leaves it
/// undefined; a configuration must not mean two things). Nothing is allocated past the limits: the size is checked
/// first, then the depth and node count as the text is read.
struct JSONReader {
    private let bytes: [UInt8]
    private var index = 0
    private var budget: DocumentBudget

    /// Parses one JSON value.
    ///
    /// - Throws: ``ConfigurationError`` naming the line and column of a syntax error, or the limit passed.
    static func parse(_ text: String, limits: DocumentLimits) throws(ConfigurationError) -> ConfigNode {
        try DocumentBudget.check(size: text.utf8.count, limits: limits)
        var reader = JSONReader(bytes: Array(text.utf8), budget: DocumentBudget(limits))
        reader.skipSpace()
        if reader.index == reader.bytes.count { return .null }
        let node = try reader.value(at: .root, depth: 0)
        reader.skipSpace()
        if reader.index < reader.bytes.count {
            throw reader.error("unexpected text after the JSON value")
        }
        return node
    }

    private init(bytes: [UInt8], budget: DocumentBudget) {
        self.bytes = bytes
        self.budget = budget
    }

    // MARK: - Values

    private mutating func value(at path: ConfigurationPath, depth: Int) throws(ConfigurationError) -> ConfigNode {
        guard let byte = self.peek() else { throw self.error("a value is missing at the end") }
        try self.budget.take(1, at: path)
        switch byte {
        case UInt8(ascii: "{"):
            try self.budget.enter(depth: depth + 1, at: path)
            return try self.object(at: path, depth: depth + 1)
        case UInt8(ascii: "["):
            try self.budget.enter(depth: depth + 1, at: path)
            return try self.array(at: path, depth: depth + 1)
        case UInt8(ascii: "\""):
            return .scalar(try self.string(), quoted: true)
        case UInt8(ascii: "t"):
            try self.literal("true")
            return .scalar("true", quoted: false)
        case UInt8(ascii: "f"):
            try self.literal("false")
            return .scalar("false", quoted: false)
        case UInt8(ascii: "n"):
            try self.literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .scalar(try self.number(), quoted: false)
        default:
            throw self.error("unexpected \(Self.describe(byte)): expected a value")
        }
    }

    private mutating func object(at path: ConfigurationPath, depth: Int) throws(ConfigurationError) -> ConfigNode {
        self.index += 1  // {
        var entries: [ConfigEntry] = []
        var keys: Set<String> = []
        self.skipSpace()
        if self.peek() == UInt8(ascii: "}") {
            self.index += 1
            return .mapping([])
        }
        while true {
            self.skipSpace()
            guard self.peek() == UInt8(ascii: "\"") else { throw self.error("expected a key in double quotes") }
            try self.budget.add(item: entries.count + 1, at: path)
            let key = try self.string()
            guard keys.insert(key).inserted else {
                throw ConfigurationError(issues: [
                    ConfigurationIssue(path: path.description, message: "duplicate key \(quoted(key))")
                ])
            }
            self.skipSpace()
            guard self.peek() == UInt8(ascii: ":") else { throw self.error("expected `:` after a key") }
            self.index += 1
            self.skipSpace()
            entries.append(ConfigEntry(key, try self.value(at: path / key, depth: depth)))
            self.skipSpace()
            switch self.peek() {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "}"):
                self.index += 1
                return .mapping(entries)
            default: throw self.error("expected `,` or `}` in an object")
            }
        }
    }

    private mutating func array(at path: ConfigurationPath, depth: Int) throws(ConfigurationError) -> ConfigNode {
        self.index += 1  // [
        var items: [ConfigNode] = []
        self.skipSpace()
        if self.peek() == UInt8(ascii: "]") {
            self.index += 1
            return .sequence([])
        }
        while true {
            self.skipSpace()
            try self.budget.add(item: items.count + 1, at: path)
            items.append(try self.value(at: path / items.count, depth: depth))
            self.skipSpace()
            switch self.peek() {
            case UInt8(ascii: ","): self.index += 1
            case UInt8(ascii: "]"):
                self.index += 1
                return .sequence(items)
            default: throw self.error("expected `,` or `]` in an array")
            }
        }
    }

    // MARK: - Tokens

    private mutating func string() throws(ConfigurationError) -> String {
        self.index += 1  // "
        var scalars = String.UnicodeScalarView()
        var start = self.index
        func flush(_ reader: JSONReader, to end: Int) {
            if start < end {
                scalars.append(contentsOf: String(decoding: reader.bytes[start..<end], as: UTF8.self).unicodeScalars)
            }
        }
        while true {
            guard let byte = self.peek() else { throw self.error("a string is not closed") }
            switch byte {
            case UInt8(ascii: "\""):
                flush(self, to: self.index)
                self.index += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(self, to: self.index)
                self.index += 1
                scalars.append(try self.escape())
                start = self.index
            case 0..<0x20:
                throw self.error("a control character (\(Self.describe(byte))) inside a string must be escaped")
            default:
                self.index += 1
            }
        }
    }

    private mutating func escape() throws(ConfigurationError) -> Unicode.Scalar {
        guard let byte = self.peek() else { throw self.error("a string is not closed") }
        self.index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let first = try self.hex4()
            if (0xD800..<0xDC00).contains(first) {
                guard self.peek() == UInt8(ascii: "\\"), self.peek(1) == UInt8(ascii: "u") else {
                    throw self.error("\\u\(String(first, radix: 16)) begins a surrogate pair with no second half")
                }
                self.index += 2
                let second = try self.hex4()
                guard (0xDC00..<0xE000).contains(second) else {
                    throw self.error("\\u\(String(second, radix: 16)) is not the second half of a surrogate pair")
                }
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(first) else {
                throw self.error("\\u\(String(first, radix: 16)) is half a surrogate pair")
            }
            return scalar
        default:
            throw self.error("\\\(Self.describe(byte)) is not a JSON escape")
        }
    }

    private mutating func hex4() throws(ConfigurationError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = self.peek(), let digit = Self.hexDigit(byte) else {
                throw self.error("\\u needs four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A number as JSON writes it: `-`? int frac? exp?, kept as text.
    private mutating func number() throws(ConfigurationError) -> String {
        let start = self.index
        if self.peek() == UInt8(ascii: "-") { self.index += 1 }
        let integer = self.digits()
        guard integer > 0 else { throw self.error("a number needs digits") }
        if integer > 1, self.bytes[self.index - integer] == UInt8(ascii: "0") {
            throw self.error("a number does not start with 0")
        }
        if self.peek() == UInt8(ascii: ".") {
            self.index += 1
            guard self.digits() > 0 else { throw self.error("a number needs digits after `.`") }
        }
        if self.peek() == UInt8(ascii: "e") || self.peek() == UInt8(ascii: "E") {
            self.index += 1
            if self.peek() == UInt8(ascii: "+") || self.peek() == UInt8(ascii: "-") { self.index += 1 }
            guard self.digits() > 0 else { throw self.error("a number needs digits in its exponent") }
        }
        return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    }

    private mutating func digits() -> Int {
        let start = self.index
        while let byte = self.peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { self.index += 1 }
        return self.index - start
    }

    private mutating func literal(_ word: String) throws(ConfigurationError) {
        for expected in word.utf8 {
            guard self.peek() == expected else { throw self.error("unexpected text: expected `\(word)`") }
            self.index += 1
        }
    }

    private mutating func skipSpace() {
        while let byte = self.peek(),
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\t")
        {
            self.index += 1
        }
    }

    private func peek(_ offset: Int = 0) -> UInt8? {
        self.index + offset < self.bytes.count ? self.bytes[self.index + offset] : nil
    }

    /// A syntax error at the current position, with its line and column (counted in bytes).
    private func error(_ problem: String) -> ConfigurationError {
        let before = self.bytes[..<min(self.index, self.bytes.count)]
        let line = before.lazy.filter { $0 == UInt8(ascii: "\n") }.count + 1
        let column = self.index - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
        return ConfigurationError(issues: [
            ConfigurationIssue(path: "", message: "JSON syntax error at line \(line), column \(column): \(problem)")
        ])
    }

    private static func describe(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "`\(Character(Unicode.Scalar(byte)))`" : "byte 0x\(String(byte, radix: 16))"
    }
}

extension ConfigNode {
    /// Parses JSON text into a tree, within `limits`.
    ///
    /// - Returns: the tree (``null`` for an empty text or `null`).
    /// - Throws: ``ConfigurationError`` naming the line and column of a syntax error, or the limit passed.
    public static func parse(json: String, limits: DocumentLimits = .site) throws(ConfigurationError) -> ConfigNode {
        try JSONReader.parse(json, limits: limits)
    }
}
