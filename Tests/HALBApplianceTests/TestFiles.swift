import Foundation

/// A fresh directory under the system's temporary directory, removed by `body`'s caller through `cleanup`.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        self.path =
            FileManager.default.temporaryDirectory.appendingPathComponent("halb-appliance-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: self.path)
    }

    /// Writes `text` to `name` in the directory.
    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(self.path)/\(name)"))
    }

    /// The text of `name` in the directory, or `nil`.
    func read(_ name: String) -> String? {
        try? String(contentsOfFile: "\(self.path)/\(name)", encoding: .utf8)
    }

    /// Every file below the directory, relative paths, sorted.
    func files() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: self.path)
        var files: [String] = []
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(self.path)/\(name)", isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                files.append(name)
            }
        }
        return files.sorted()
    }

    /// The permission bits of `name`.
    func mode(_ name: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: "\(self.path)/\(name)"))?[.posixPermissions] as? Int
    }
}

/// A fingerprint for tests: 64 hex digits.
let sampleFingerprint = String(repeating: "ab", count: 32)

/// The message of `body`'s ``ApplianceError``-like error, or `accepted`.
func refusal<T>(_ body: () throws -> T) -> String {
    do {
        _ = try body()
        return "accepted"
    } catch {
        return "\(error)"
    }
}
