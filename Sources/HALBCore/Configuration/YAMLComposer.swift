import CYaml

/// Builds a ``ConfigNode`` straight from libyaml's parse events, within ``DocumentLimits``.
///
/// Yams' own composer would first build its whole node tree, expand nothing but hash every mapping key (an alias
/// key standing for a huge tree costs exponential time), and leave the size of the expanded tree to whoever walks
/// it. This one counts every node as it goes, an alias as the whole node it stands for, so a "billion laughs"
/// document is refused after at most ``DocumentLimits/maximumNodes`` steps, and an alias costs no memory (the tree it
/// stands for is shared, not copied). Keys must be plain text; merge keys (`<<: *defaults`) are resolved as YAML 1.1
/// defines them: keys written in the mapping win, then earlier merged mappings over later ones.
final class YAMLComposer {
    private var parser = yaml_parser_t()
    private var budget: DocumentBudget
    /// What each anchor stands for, with its size in nodes (an alias takes that much from the budget).
    private var anchors: [String: (node: ConfigNode, size: Int)] = [:]

    /// Parses one YAML document.
    ///
    /// - Returns: the tree (``ConfigNode/null`` for an empty document).
    /// - Throws: ``ConfigurationError`` for a syntax error (with its line and column), more than one document, a
    ///   key that is not plain text, a duplicate key, an undefined alias, or a document past `limits`.
    static func compose(_ yaml: String, limits: DocumentLimits) throws(ConfigurationError) -> ConfigNode {
        try DocumentBudget.check(size: yaml.utf8.count, limits: limits)
        var bytes = Array(yaml.utf8)
        let composer = YAMLComposer(budget: DocumentBudget(limits))
        return try bytes.withUnsafeMutableBufferPointer { (buffer) throws(ConfigurationError) -> ConfigNode in
            try composer.document(buffer)
        }
    }

    private init(budget: DocumentBudget) {
        self.budget = budget
        _ = yaml_parser_initialize(&self.parser)
    }

    deinit {
        yaml_parser_delete(&self.parser)
    }

    // MARK: - Events

    /// A parse event, copied out of libyaml's (which is freed at once).
    private enum Event {
        case streamStart, streamEnd, documentStart, documentEnd
        case alias(anchor: String, line: Int)
        case scalar(text: String, style: yaml_scalar_style_t, anchor: String?, line: Int)
        case sequenceStart(anchor: String?, line: Int)
        case sequenceEnd
        case mappingStart(anchor: String?, line: Int)
        case mappingEnd
    }

    private func next() throws(ConfigurationError) -> Event {
        var event = yaml_event_t()
        guard yaml_parser_parse(&self.parser, &event) == 1 else {
            throw ConfigurationError(issues: [ConfigurationIssue(path: "", message: self.syntaxError())])
        }
        defer { yaml_event_delete(&event) }
        let line = Int(event.start_mark.line) + 1
        switch event.type {
        case YAML_STREAM_START_EVENT: return .streamStart
        case YAML_STREAM_END_EVENT: return .streamEnd
        case YAML_DOCUMENT_START_EVENT: return .documentStart
        case YAML_DOCUMENT_END_EVENT: return .documentEnd
        case YAML_ALIAS_EVENT:
            return .alias(anchor: Self.text(event.data.alias.anchor) ?? "", line: line)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text =
                scalar.value.map {
                    String(decoding: UnsafeBufferPointer(start: $0, count: scalar.length), as: UTF8.self)
                }
                ?? ""
            return .scalar(text: text, style: scalar.style, anchor: Self.text(scalar.anchor), line: line)
        case YAML_SEQUENCE_START_EVENT:
            return .sequenceStart(anchor: Self.text(event.data.sequence_start.anchor), line: line)
        case YAML_SEQUENCE_END_EVENT: return .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            return .mappingStart(anchor: Self.text(event.data.mapping_start.anchor), line: line)
        case YAML_MAPPING_END_EVENT: return .mappingEnd
        default:
            throw ConfigurationError(issues: [
                ConfigurationIssue(path: "", message: "cannot read YAML: unexpected event")
            ])
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private func syntaxError() -> String {
        let problem = self.parser.problem.map { String(cString: $0) } ?? "unknown problem"
        let mark = self.parser.problem_mark
        var text: String
        if self.parser.error == YAML_READER_ERROR {
            text = "cannot read YAML: \(problem) at byte \(self.parser.problem_offset)"
        } else {
            text = "YAML syntax error at line \(mark.line + 1), column \(mark.column + 1): \(problem)"
            if let context = self.parser.context.map({ String(cString: $0) }) {
                text += " (\(context) at line \(self.parser.context_mark.line + 1))"
            }
        }
        return text
    }

    // MARK: - Composing

    private func document(_ buffer: UnsafeMutableBufferPointer<UInt8>) throws(ConfigurationError) -> ConfigNode {
        yaml_parser_set_input_string(&self.parser, buffer.baseAddress, buffer.count)
        yaml_parser_set_encoding(&self.parser, YAML_UTF8_ENCODING)
        guard case .streamStart = try self.next() else { return .null }
        switch try self.next() {
        case .streamEnd:
            return .null
        case .documentStart:
            break
        default:
            throw ConfigurationError(issues: [ConfigurationIssue(path: "", message: "cannot read YAML: no document")])
        }
        let root = try self.node(try self.next(), at: .root, depth: 0).node
        _ = try self.next()  // the document's end
        if case .documentStart = try self.next() {
            throw ConfigurationError(issues: [
                ConfigurationIssue(path: "", message: "the file holds more than one YAML document (a second `---`)")
            ])
        }
        return root
    }

    private func node(
        _ event: Event,
        at path: ConfigurationPath,
        depth: Int
    ) throws(ConfigurationError) -> (
        node: ConfigNode, size: Int
    ) {
        switch event {
        case .alias(let anchor, let line):
            guard let target = self.anchors[anchor] else {
                throw ConfigurationError(issues: [
                    ConfigurationIssue(
                        path: path.description,
                        message: "line \(line): alias *\(anchor) names no anchor before it"
                    )
                ])
            }
            try self.budget.take(target.size, at: path)
            return target
        case .scalar(let text, let style, let anchor, _):
            try self.budget.take(1, at: path)
            let node = Self.scalar(text, style: style)
            self.remember(anchor, node, size: 1)
            return (node, 1)
        case .sequenceStart(let anchor, _):
            try self.budget.enter(depth: depth + 1, at: path)
            try self.budget.take(1, at: path)
            var items: [ConfigNode] = []
            var size = 1
            while true {
                let next = try self.next()
                if case .sequenceEnd = next { break }
                try self.budget.add(item: items.count + 1, at: path)
                let item = try self.node(next, at: path / items.count, depth: depth + 1)
                items.append(item.node)
                size += item.size
            }
            let node = ConfigNode.sequence(items)
            self.remember(anchor, node, size: size)
            return (node, size)
        case .mappingStart(let anchor, let line):
            try self.budget.enter(depth: depth + 1, at: path)
            try self.budget.take(1, at: path)
            let mapping = try self.mapping(at: path, line: line, depth: depth + 1)
            let node = ConfigNode.mapping(mapping.entries)
            self.remember(anchor, node, size: mapping.size)
            return (node, mapping.size)
        default:
            throw ConfigurationError(issues: [
                ConfigurationIssue(path: path.description, message: "cannot read YAML: a value is missing")
            ])
        }
    }

    private func mapping(
        at path: ConfigurationPath,
        line: Int,
        depth: Int
    ) throws(ConfigurationError) -> (
        entries: [ConfigEntry], size: Int
    ) {
        var entries: [ConfigEntry] = []
        var keys: Set<String> = []
        var merged: [[ConfigEntry]] = []
        var size = 1
        while true {
            let keyEvent = try self.next()
            if case .mappingEnd = keyEvent { break }
            guard case .scalar(let key, let style, _, let keyLine) = keyEvent else {
                throw ConfigurationError(issues: [
                    ConfigurationIssue(path: path.description, message: "line \(line): mapping keys must be plain text")
                ])
            }
            try self.budget.add(item: entries.count + merged.count + 1, at: path)
            if key == "<<", style == YAML_PLAIN_SCALAR_STYLE {
                let value = try self.node(try self.next(), at: path / "<<", depth: depth)
                merged += try Self.mergeSources(value.node, at: path, line: keyLine)
                size += 1 + value.size
                continue
            }
            guard keys.insert(key).inserted else {
                throw ConfigurationError(issues: [
                    ConfigurationIssue(path: path.description, message: "line \(keyLine): duplicate key \(quoted(key))")
                ])
            }
            try self.budget.take(1, at: path / key)
            let value = try self.node(try self.next(), at: path / key, depth: depth)
            entries.append(ConfigEntry(key, value.node))
            size += 1 + value.size
        }
        // Merged keys come after the mapping's own, which win over them; an earlier merged mapping wins over a
        // later one.
        for source in merged {
            for entry in source where keys.insert(entry.key).inserted {
                try self.budget.add(item: entries.count + 1, at: path)
                entries.append(entry)
            }
        }
        return (entries, size)
    }

    /// The mappings a merge key's value names: one mapping, or a list of mappings.
    private static func mergeSources(
        _ value: ConfigNode,
        at path: ConfigurationPath,
        line: Int
    ) throws(ConfigurationError)
        -> [[ConfigEntry]]
    {
        switch value {
        case .mapping(let entries):
            return [entries]
        case .sequence(let items):
            var sources: [[ConfigEntry]] = []
            for item in items {
                guard case .mapping(let entries) = item else { break }
                sources.append(entries)
            }
            if sources.count == items.count { return sources }
        default:
            break
        }
        throw ConfigurationError(issues: [
            ConfigurationIssue(
                path: (path / "<<").description,
                message: "line \(line): a merge key takes a mapping or a list of mappings (`<<: *defaults`)"
            )
        ])
    }

    private func remember(_ anchor: String?, _ node: ConfigNode, size: Int) {
        if let anchor { self.anchors[anchor] = (node, size) }
    }

    /// A scalar's node: plain `~`, `null` and the empty scalar are null; the text of any other keeps whether it was
    /// quoted (block scalars count as quoted: they are always text).
    private static func scalar(_ text: String, style: yaml_scalar_style_t) -> ConfigNode {
        if style == YAML_PLAIN_SCALAR_STYLE {
            return ["", "~", "null", "Null", "NULL"].contains(text) ? .null : .scalar(text, quoted: false)
        }
        return .scalar(text, quoted: true)
    }
}
