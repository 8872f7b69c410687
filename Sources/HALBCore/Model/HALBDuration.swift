/// A span of time as operators write it in configuration files: `250ms`, `2s`, `5m`, `1h`, or a sum like `1m30s`.
///
/// Stored as whole milliseconds, which is the finest unit the configuration accepts.
public struct HALBDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The length in milliseconds.
    public var milliseconds: Int64

    /// Creates a duration of `milliseconds` milliseconds.
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// A duration of `value` milliseconds.
    public static func milliseconds(_ value: Int64) -> HALBDuration { HALBDuration(milliseconds: value) }
    /// A duration of `value` seconds.
    public static func seconds(_ value: Int64) -> HALBDuration { HALBDuration(milliseconds: value * 1000) }
    /// A duration of `value` minutes.
    public static func minutes(_ value: Int64) -> HALBDuration { HALBDuration(milliseconds: value * 60_000) }
    /// A duration of `value` hours.
    public static func hours(_ value: Int64) -> HALBDuration { HALBDuration(milliseconds: value * 3_600_000) }

    /// The same length as a standard library `Duration`.
    public var duration: Duration { .milliseconds(self.milliseconds) }

    public static func < (lhs: HALBDuration, rhs: HALBDuration) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// The shortest way of writing this duration that `init(parsing:)` reads back, such as `1m30s` or `250ms`.
    public var description: String {
        if self.milliseconds == 0 { return "0s" }
        var rest = self.milliseconds
        var text = ""
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000), ("ms", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }

    /// Reads a duration written as one or more `<integer><unit>` parts, units `ms`, `s`, `m` and `h`.
    ///
    /// - Parameter text: the text to read, such as `500ms` or `1h30m`.
    /// - Returns: the duration, or `nil` when `text` is not a duration (a bare number has no unit and is refused).
    public init?(parsing text: String) {
        var total: Int64 = 0
        var digits = ""
        var unit = ""
        var sawPart = false
        func flush() -> Bool {
            guard let value = Int64(digits), !unit.isEmpty else { return false }
            let size: Int64
            switch unit {
            case "ms": size = 1
            case "s": size = 1000
            case "m": size = 60_000
            case "h": size = 3_600_000
            default: return false
            }
            let (product, overflow1) = value.multipliedReportingOverflow(by: size)
            let (sum, overflow2) = total.addingReportingOverflow(product)
            guard !overflow1, !overflow2 else { return false }
            total = sum
            digits = ""
            unit = ""
            sawPart = true
            return true
        }
        for character in text.trimmingSpaces() {
            if character.isASCII, character.isNumber {
                if !unit.isEmpty {
                    guard flush() else { return nil }
                }
                digits.append(character)
            } else if character.isASCII, character.isLetter {
                guard !digits.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard flush(), sawPart else { return nil }
        self.milliseconds = total
    }
}

extension String {
    func trimmingSpaces() -> Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
