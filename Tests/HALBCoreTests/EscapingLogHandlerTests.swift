import Foundation
import HALBCore
import Logging
import Testing

@Suite struct EscapingLogHandlerTests {
    @Test func metadataFromOutsideCannotForgeALineOrDriveTheTerminal() {
        let forged: Logger.Metadata = [
            "user": "eve\r\nFAKE: admin logged in",
            "list": .array(["\u{1B}[31mred", "ok"]),
            "nested": .dictionary(["name": "\u{202E}txt.exe"]),
        ]
        let escaped = EscapingLogHandler.escaped(forged)
        for value in [escaped["user"], escaped["list"], escaped["nested"]] {
            let text = "\(value!)"
            #expect(!text.contains("\r") && !text.contains("\n"), "\(text)")
            #expect(!text.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{202E}" }, "\(text)")
        }
        #expect("\(escaped["user"]!)".contains("FAKE: admin logged in"))
    }

    @Test func journalPrioritiesAreSyslogs() {
        #expect(EscapingLogHandler.priority(.critical) == 2)
        #expect(EscapingLogHandler.priority(.error) == 3)
        #expect(EscapingLogHandler.priority(.warning) == 4)
        #expect(EscapingLogHandler.priority(.notice) == 5)
        #expect(EscapingLogHandler.priority(.info) == 6)
        #expect(EscapingLogHandler.priority(.debug) == 7)
    }

    @Test func standardErrorIsTheJournalOnlyWhenJournalStreamNamesIt() {
        var status = stat()
        #expect(fstat(STDERR_FILENO, &status) == 0)
        let own = "\(status.st_dev):\(status.st_ino)"
        #expect(EscapingLogHandler.standardErrorIsTheJournal(["JOURNAL_STREAM": own]))
        // A child that inherited the variable but writes elsewhere, a garbled value, no value.
        #expect(
            !EscapingLogHandler.standardErrorIsTheJournal(["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino + 1)"])
        )
        #expect(!EscapingLogHandler.standardErrorIsTheJournal(["JOURNAL_STREAM": "8:x"]))
        #expect(!EscapingLogHandler.standardErrorIsTheJournal([:]))
    }
}
