import ArgumentParser
import Foundation

/// How a command fails: `halb: MESSAGE` on standard error and exit status 1.
enum CommandFailure {
    static func exit(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("halb: \(message)\n".utf8))
        return ExitCode(1)
    }
}
