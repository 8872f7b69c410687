import Foundation
import HALBFailover
import Logging

/// Runs the notify command of a transition in the background; a failure is logged and changes nothing.
public enum NotifyCommand {
    public static func run(_ command: String, transition: VirtualRouterTransition, logger: Logger) {
        let state =
            switch transition.to {
            case .master: "MASTER"
            case .backup: "BACKUP"
            case .initialize: "STOP"
            }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = [transition.name, state, "\(transition.priority)", transition.family]
        process.terminationHandler = { process in
            guard process.terminationStatus != 0 else { return }
            logger.warning(
                "Notify command failed",
                metadata: [
                    "vs.name": "\(transition.name)",
                    "notify.command": "\(command)",
                    "notify.status": "\(process.terminationStatus)",
                ]
            )
        }
        do {
            try process.run()
        } catch {
            logger.warning(
                "Notify command failed",
                metadata: ["vs.name": "\(transition.name)", "notify.command": "\(command)", "error": "\(error)"]
            )
        }
    }
}
