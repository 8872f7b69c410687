import HALBCore
import Testing

/// The messages of a parse that must fail.
private func refusal(_ parse: () throws(ConfigurationError) -> ConfigNode) -> String {
    do {
        let node = try parse()
        return "accepted: \(node.json().prefix(80))"
    } catch {
        return error.description
    }
}

/// A "billion laughs" document: `levels` anchors, each a list of `width` aliases of the one before.
private func laughs(levels: Int, width: Int) -> String {
    var yaml = "a0: &a0 [lol]\n"
    for level in 1...levels {
        let items = Array(repeating: "*a\(level - 1)", count: width).joined(separator: ", ")
        yaml += "a\(level): &a\(level) [\(items)]\n"
    }
    return yaml
}

extension ConfigNode {
    fileprivate subscript(key: String) -> ConfigNode? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }
}

@Suite struct DocumentLimitsTests {
    @Test func aBillionLaughsIsRefusedByItsExpandedSize() {
        // Nine levels of nine: 387 million nodes once expanded, from 478 bytes (the attack's body).
        let message = refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: laughs(levels: 9, width: 9))
        }
        #expect(message.contains("more than 250000 values"), "\(message)")
        // The same as a site file: one issue, no site.
        #expect(throws: ConfigurationError.self) { try SiteReader.load(yaml: laughs(levels: 9, width: 9)) }
    }

    @Test func aliasKeysAreRefusedBeforeTheyAreHashed() {
        // An alias as a key would make any composer that hashes keys walk the whole expanded tree.
        let yaml = laughs(levels: 8, width: 9) + "? *a8\n: x\n"
        #expect(refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: yaml) }.contains("values"))
        let small = "a: &a [x]\n? *a\n: y\n"
        #expect(
            refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: small) }.contains(
                "mapping keys must be plain text"
            )
        )
    }

    @Test func aliasesWithinTheBudgetStillWork() throws {
        let node = try ConfigNode.parse(yaml: "base: &b {weight: 5}\nother: *b\n")
        #expect(node["other"]?["weight"] == .plain("5"))
        #expect(
            refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: "a: *nothing\n") }.contains(
                "names no anchor"
            )
        )
    }

    @Test func mergeKeysMergeWithWrittenKeysWinning() throws {
        let yaml = """
            defaults: &d {weight: 5, enabled: false}
            more: &m {drain: true, weight: 7}
            one: {<<: *d, name: gw1, enabled: true}
            two: {<<: [*m, *d], name: gw2}
            """
        let node = try ConfigNode.parse(yaml: yaml)
        #expect(
            node["one"]
                == .mapping([
                    .init("name", .plain("gw1")), .init("enabled", .plain("true")), .init("weight", .plain("5")),
                ])
        )
        #expect(node["two"]?["weight"] == .plain("7"))
        #expect(node["two"]?["drain"] == .plain("true"))
        #expect(node["two"]?["enabled"] == .plain("false"))
        #expect(
            refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: "a: {<<: 5}\n") }.contains(
                "merge key takes a mapping"
            )
        )
    }

    @Test func deepNestingIsRefusedWithItsDepth() {
        for text in [
            String(repeating: "[", count: 100_000),
            String(repeating: "{a: ", count: 40) + "1" + String(repeating: "}", count: 40),
        ] {
            let yaml = refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: text) }
            #expect(yaml.contains("nested more than 32 deep") || yaml.contains("syntax error"), "\(yaml.prefix(200))")
        }
        let json = refusal { () throws(ConfigurationError) in
            try ConfigNode.parse(json: String(repeating: "[", count: 100_000))
        }
        #expect(json.contains("nested more than 32 deep"), "\(json)")
    }

    @Test func longListsAreRefusedAsOneIssue() {
        let yaml = "gateways: [" + Array(repeating: "x", count: 10_001).joined(separator: ",") + "]\n"
        let message = refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: yaml) }
        #expect(message == "gateways: has more than 10000 items; refused")
        let json = "{\"gateways\": [" + Array(repeating: "1", count: 10_001).joined(separator: ",") + "]}"
        #expect(
            refusal { () throws(ConfigurationError) in try ConfigNode.parse(json: json) }
                == "gateways: has more than 10000 items; refused"
        )
    }

    @Test func aDocumentPastItsSizeIsRefusedUnread() {
        let limits = DocumentLimits(maximumBytes: 1024, maximumDepth: 8, maximumNodes: 100, maximumItems: 10)
        let text = String(repeating: "#", count: 1025)
        let expected = "the document is 1025 bytes, more than the limit of 1 KiB"
        #expect(
            refusal { () throws(ConfigurationError) in try ConfigNode.parse(yaml: text, limits: limits) } == expected
        )
        #expect(
            refusal { () throws(ConfigurationError) in try ConfigNode.parse(json: text, limits: limits) } == expected
        )
    }

    @Test func manyIssuesAreCappedWithACount() {
        var yaml = "site: big\ngateways:\n"
        for index in 0..<300 { yaml += "  - {name: g\(index), address: 192.0.2.1, weight: -1}\n" }
        do {
            _ = try SiteReader.load(yaml: yaml)
            Issue.record("accepted")
        } catch {
            #expect(error.issues.count == SiteReader.maximumIssues + 1)
            #expect(error.issues.last?.message.hasPrefix("and ") == true)
            #expect(error.issues.last?.message.contains("more issues, not listed") == true)
        }
    }
}

@Suite struct JSONReaderTests {
    @Test func readsJSONAsTheSameTreeAsYAML() throws {
        let json =
            #"{"name": "gw1", "weight": 5, "ratio": -1.5e3, "on": true, "none": null, "list": [1, "two"], "text": "a\"b\\c\u00e9\ud83d\ude00\n"}"#
        let node = try ConfigNode.parse(json: json)
        #expect(node["name"] == .string("gw1"))
        #expect(node["weight"] == .plain("5"))
        #expect(node["ratio"] == .plain("-1.5e3"))
        #expect(node["on"] == .plain("true"))
        #expect(node["none"] == .null)
        #expect(node["list"] == .sequence([.plain("1"), .string("two")]))
        #expect(node["text"] == .string("a\"b\\c\u{e9}\u{1F600}\n"))
        // What the console writes, it reads back.
        #expect(try ConfigNode.parse(json: node.json()) == node)
    }

    @Test(arguments: [
        ("{\"a\": 1,}", "line 1, column 9"),
        ("{\"a\": 01}", "does not start with 0"),
        ("{\"a\": 1} x", "unexpected text after"),
        ("{\"a\": 1, \"a\": 2}", "duplicate key \"a\""),
        ("[\"\\ud800\"]", "surrogate pair"),
        ("[\"a\u{1}\"]", "control character"),
        ("{a: 1}", "expected a key in double quotes"),
        ("[1,\n2,\n", "line 3"),
        ("[tru]", "expected `true`"),
        ("\"open", "not closed"),
    ])
    func syntaxErrorsSayWhatAndWhere(text: String, expected: String) {
        let message = refusal { () throws(ConfigurationError) in try ConfigNode.parse(json: text) }
        #expect(message.contains(expected), "\(message)")
    }
}
