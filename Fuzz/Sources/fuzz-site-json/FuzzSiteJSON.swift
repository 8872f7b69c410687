import HALBCore

/// libFuzzer's entry point: parses the input as a JSON site document (as the console's API receives it) and reads a
/// site from it.
///
/// Checks, besides "no crash, no leak, no hang": a tree that parses is written as JSON by ``ConfigNode/json()``,
/// and that text parses to the same tree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let node = try? ConfigNode.parse(json: text) else { return 0 }
    let json = node.json()
    let reparsed: ConfigNode
    do {
        reparsed = try ConfigNode.parse(json: json)
    } catch {
        fatalError("a parsed tree's JSON does not parse: \(error)\njson: \(json)")
    }
    guard reparsed == node else {
        fatalError("a parsed tree's JSON parses differently\njson: \(json)\nnode: \(node)\nreparsed: \(reparsed)")
    }
    _ = try? SiteReader.load(node)
    return 0
}
