import Foundation
import HALBCore
import Testing

@Suite struct SiteFileTests {
    private func withDirectory(_ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-sitefile-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    private func problem(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aFileIsReadWithinItsLimitThroughALink() throws {
        try self.withDirectory { directory in
            let file = directory.appendingPathComponent("site.yaml")
            try Data("site: lab\n".utf8).write(to: file)
            let link = directory.appendingPathComponent("current.yaml")
            try FileManager.default.createSymbolicLink(at: link, withDestinationURL: file)
            #expect(try SiteFile.read(path: link.path) == "site: lab\n")
            #expect(self.problem { _ = try SiteFile.read(path: file.path, limit: 4) }?.contains("larger than") == true)
        }
    }

    @Test func whatIsNotARegularUTF8FileIsNamed() throws {
        try self.withDirectory { directory in
            let binary = directory.appendingPathComponent("binary.yaml")
            try Data([0xFF, 0xFE, 0x00]).write(to: binary)
            #expect(self.problem { _ = try SiteFile.read(path: binary.path) } == "it is not UTF-8 text")
            #expect(self.problem { _ = try SiteFile.read(path: directory.path) } == "it is a directory")
            #expect(self.problem { _ = try SiteFile.read(path: "/dev/zero") }?.contains("not a regular file") == true)
            #expect(
                self.problem { _ = try SiteFile.read(path: directory.appendingPathComponent("none").path) }
                    == "no such file"
            )
        }
    }

    @Test func loadNamesTheFileItCannotRead() {
        do {
            _ = try SiteFile.load(path: "/nonexistent/site.yaml")
            Issue.record("an unreadable file loaded")
        } catch {
            #expect(error.description.contains("cannot read /nonexistent/site.yaml: no such file"), "\(error)")
        }
    }
}
