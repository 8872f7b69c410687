import HALBCore

/// libFuzzer's entry point: parses the input as a YAML site file and reads a site from it.
///
/// Checks, besides "no crash, no leak, no hang": a site that loads is written back to a tree by ``SiteWriter``, and
/// that tree loads to the same site.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    guard let node = try? ConfigNode.parse(yaml: text), let site = try? SiteReader.load(node) else { return 0 }
    let written = SiteWriter.node(site)
    let reloaded: Site
    do {
        reloaded = try SiteReader.load(written)
    } catch {
        fatalError("a loaded site does not load again once written: \(error)\nwritten: \(written.json())")
    }
    guard reloaded == site else {
        fatalError("a loaded site loads differently once written\nsite: \(site)\nreloaded: \(reloaded)")
    }
    return 0
}
