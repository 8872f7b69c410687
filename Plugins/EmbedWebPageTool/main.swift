import Foundation

// halb-embed-web WEB-DIRECTORY OUTPUT.swift
//
// Writes `enum WebPageFiles { static let files: [(path: String, base64: String)] }` holding every regular file under
// WEB-DIRECTORY (paths relative to it, '/'-separated, sorted; names starting with '.' skipped). Base64 text rather
// than a byte-array literal: the compiler takes a string literal at once, a long array literal takes minutes.

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: halb-embed-web WEB-DIRECTORY OUTPUT.swift\n".utf8))
    exit(2)
}
let root = URL(fileURLWithPath: arguments[1]).standardizedFileURL
let output = URL(fileURLWithPath: arguments[2])
var files: [(path: String, contents: Data)] = []
if let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) {
    for case let url as URL in walker {
        if url.lastPathComponent.hasPrefix(".") {
            walker.skipDescendants()
            continue
        }
        guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
        let path = url.standardizedFileURL.path.dropFirst(root.path.count).drop { $0 == "/" }
        files.append((String(path), try Data(contentsOf: url)))
    }
}
files.sort { $0.path < $1.path }
var source = """
    // Generated at build time by halb-embed-web from the target's Web/ directory. Do not edit.

    enum WebPageFiles {
        static let files: [(path: String, base64: String)] = [

    """
for file in files {
    let path = file.path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    source += "        (\"\(path)\", \"\(file.contents.base64EncodedString())\"),\n"
}
source += "    ]\n}\n"
try Data(source.utf8).write(to: output, options: .atomic)
