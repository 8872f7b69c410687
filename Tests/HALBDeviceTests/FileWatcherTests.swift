import Foundation
import HALBTestSupport
import Synchronization
import Testing

@testable import HALBDevice

/// The site file's watch wakes the device for that file only.
@Suite(.timeLimit(.minutes(1))) struct FileWatcherTests {
    @Test func writesToOtherFilesOfTheDirectoryDoNotWakeItAndOnesToTheFileDo() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-watch-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("site.yaml")
        try "site: lab\n".write(to: file, atomically: true, encoding: .utf8)
        let watcher = try FileWatcher(path: file.path)
        defer { watcher.stop() }
        let wakes = Atomic(0)
        let listening = Task {
            for await _ in watcher.events { wakes.add(1, ordering: .relaxed) }
        }
        defer { listening.cancel() }

        // A log beside the site file, written a hundred times.
        let log = directory.appendingPathComponent("halb.log")
        #expect(FileManager.default.createFile(atPath: log.path, contents: nil))
        let handle = try FileHandle(forWritingTo: log)
        for line in 0..<100 { handle.write(Data("line \(line)\n".utf8)) }
        try handle.close()
        try await Task.sleep(for: .milliseconds(300))
        #expect(wakes.load(ordering: .relaxed) == 0)

        try "site: lab\nversion: 2\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(await eventually { wakes.load(ordering: .relaxed) >= 1 })
    }
}
