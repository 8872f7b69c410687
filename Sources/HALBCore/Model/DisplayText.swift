/// Text from outside (a field of a site, a user name, a request's path) made safe to show in a log line, an error
/// message or a terminal.
///
/// Control characters are written as escapes, so such text cannot start a new log line (CR, LF), move the cursor or
/// change colours (ESC), or cut a C string (NUL): `"a\r\nb"` prints as `a\r\nb`, ESC as `\u{1B}`. Long text is cut.
public enum DisplayText {
    /// The text with every control character escaped, cut after `limit` characters (`…` marks the cut).
    public static func escaped(_ text: String, limit: Int = 200) -> String {
        var output = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                output += "…"
                break
            }
            count += 1
            switch scalar {
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\\": output += "\\\\"
            case _ where Self.isControl(scalar):
                output += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// The escaped text in double quotes (a `"` inside escaped too), so that empty and spaced values stay visible.
    public static func quoted(_ text: String, limit: Int = 200) -> String {
        "\"" + Self.escaped(text, limit: limit).replacingQuotes() + "\""
    }

    /// C0 and C1 controls, DEL, and the Unicode line, paragraph and bidirectional-override characters that can
    /// make a line look like something else.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var output = ""
        for character in self {
            if character == "\"" { output += "\\\"" } else { output.append(character) }
        }
        return output
    }
}
