import Foundation
import HALBAppliance

#if canImport(Glibc)
import Glibc
#endif

/// Runs ``ApplianceWizardStateMachine`` on standard input and output.
enum ApplianceWizard {
    /// The longest answer read; the rest of a longer line is dropped (and the answer refused as too long).
    static let maximumLineBytes = 4096

    /// Asks until the operator confirms settings.
    ///
    /// - Throws: ``ApplianceError`` when input ends or the wizard gives up.
    static func run(defaults: ApplianceInput) throws(ApplianceError) -> ApplianceSettings {
        var wizard = ApplianceWizardStateMachine(defaults: defaults)
        var action = wizard.start()
        Self.write("Configure this HALB appliance. Press Enter to take the value in brackets.\n")
        while true {
            switch action {
            case .ask(let prompt):
                action = wizard.receive(Self.answer(prompt))
            case .retry(let message, let prompt):
                Self.write(message + "\n")
                action = wizard.receive(Self.answer(prompt))
            case .write(let settings):
                return settings
            case .giveUp(let message):
                throw .issue("", message)
            case .abort:
                Self.write("\n")
                throw .issue("", "the input ended before the configuration was confirmed")
            }
        }
    }

    /// Prints the prompt and reads one line (without echo for a secret on a terminal); `nil` at end of input.
    private static func answer(_ prompt: ApplianceWizardStateMachine.Prompt) -> String? {
        Self.write(prompt.text)
        guard prompt.isSecret, isatty(STDIN_FILENO) == 1 else { return Self.readLine() }
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { return Self.readLine() }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            // The newline the operator typed was not echoed.
            Self.write("\n")
        }
        return Self.readLine()
    }

    private static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// One line of standard input, at most ``maximumLineBytes`` (read byte by byte: nothing after the newline is
    /// consumed), without its newline; `nil` at end of input with nothing read.
    private static func readLine() -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        var sawAny = false
        while true {
            let count = read(STDIN_FILENO, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { break }
            sawAny = true
            if byte == UInt8(ascii: "\n") { break }
            if bytes.count < Self.maximumLineBytes { bytes.append(byte) }
        }
        guard sawAny else { return nil }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
