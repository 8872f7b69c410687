/// The first-boot wizard as pure state: fed one line of input at a time, it answers with the next prompt, a
/// refusal and the same prompt again, or the end (settings to write, giving up, or an abort).
///
/// It asks, one at a time and each with its current default in brackets: host name, address (`dhcp` or
/// CIDR[,CIDR]), gateway and DNS servers (only for static addresses), console URL, the console CA's SHA-256
/// fingerprint (only for https://), join token (a secret: read without echo, shown as its first 4 characters),
/// device name (by default the host name's first label). An empty answer takes the default; `none` clears an
/// optional one. Each answer is checked at once; after ``maximumBadAnswers`` refused answers to one question the
/// wizard gives up. Then it shows a summary and asks `Write this configuration? [y/N]`: `y` ends with the settings,
/// anything that means no starts over with the answers as defaults, at most ``maximumRounds`` times. End of input
/// aborts.
public struct ApplianceWizardStateMachine: Sendable {
    /// What the wizard asks.
    public enum Question: String, Sendable, Hashable, CaseIterable {
        case hostname, address, gateway, dns, console, consoleCASHA256, joinToken, name, confirm
    }

    /// A question as the terminal shows it.
    public struct Prompt: Sendable, Hashable {
        /// The question.
        public var question: Question
        /// The text to print before reading the answer (no newline at its end).
        public var text: String
        /// Whether the answer is a secret, read without echo.
        public var isSecret: Bool
    }

    /// What to do next.
    public enum Action: Sendable, Hashable {
        /// Print the prompt and read a line.
        case ask(Prompt)
        /// Print the message (the answer was refused), then print the prompt and read a line.
        case retry(message: String, Prompt)
        /// Write these settings: the operator confirmed them.
        case write(ApplianceSettings)
        /// Stop without writing anything, for this reason.
        case giveUp(String)
        /// Input ended: stop without writing anything.
        case abort
    }

    /// Refused answers to one question before the wizard gives up.
    public static let maximumBadAnswers = 10
    /// Rounds of questions before the wizard gives up when none is confirmed.
    public static let maximumRounds = 5

    private var answers: ApplianceInput
    /// Whether the device name is the host name's first label, and so follows a new host name.
    private var nameFollowsHostname: Bool
    private var question: Question = .hostname
    private var badAnswers = 0
    private var round = 1
    private var settings: ApplianceSettings?
    private var finished = false

    /// Creates a wizard whose first defaults are `defaults` (the address's is `dhcp` unless given).
    public init(defaults: ApplianceInput = ApplianceInput()) {
        self.answers = defaults
        if self.answers[.address] == nil { self.answers[.address] = "dhcp" }
        let name = defaults[.name]
        self.nameFollowsHostname =
            name == nil || name == defaults[.hostname].map { ApplianceValidation.defaultName(hostname: $0) }
        if self.nameFollowsHostname { self.answers[.name] = nil }
    }

    /// The first action: ask the first question.
    public func start() -> Action { .ask(self.prompt) }

    /// Takes one line of input (`nil`: end of input) and says what to do next.
    public mutating func receive(_ line: String?) -> Action {
        guard !self.finished else { return .giveUp("the wizard has ended") }
        guard let line else {
            self.finished = true
            return .abort
        }
        let answer = ApplianceValidation.trimmed(line)
        if self.question == .confirm { return self.confirm(answer) }
        do {
            try self.accept(answer)
        } catch {
            return self.refuse(error.description)
        }
        self.badAnswers = 0
        self.question = self.next(after: self.question)
        if self.question == .confirm {
            do {
                self.settings = try ApplianceSettings(validating: self.answers)
            } catch {
                self.finished = true
                return .giveUp(error.description)
            }
        }
        return .ask(self.prompt)
    }

    // MARK: - Answers

    private mutating func refuse(_ message: String) -> Action {
        self.badAnswers += 1
        if self.badAnswers >= Self.maximumBadAnswers {
            self.finished = true
            return .giveUp(
                "\(message)\n\(self.badAnswers) answers to the same question were refused; giving up"
            )
        }
        return .retry(message: message, self.prompt)
    }

    /// Checks an answer to the current question and keeps it.
    private mutating func accept(_ answer: String) throws(ApplianceError) {
        let given: String? = answer.isEmpty ? nil : answer
        switch self.question {
        case .hostname:
            let hostname = try ApplianceValidation.hostname(given ?? self.answers[.hostname])
            self.answers[.hostname] = hostname
            if self.nameFollowsHostname { self.answers[.name] = nil }
        case .address:
            let addresses = try ApplianceValidation.addresses(given ?? self.answers[.address])
            self.answers[.address] = addresses.isEmpty ? "dhcp" : addresses.map(\.description).joined(separator: ",")
            if addresses.isEmpty {
                self.answers[.gateway] = nil
                self.answers[.dns] = nil
            }
        case .gateway:
            let addresses = try ApplianceValidation.addresses(self.answers[.address])
            let gateways = try ApplianceValidation.gateways(given ?? self.answers[.gateway], addresses: addresses)
            self.answers[.gateway] = gateways.map(\.description).joined(separator: ",")
        case .dns:
            let servers = try ApplianceValidation.dns(given ?? self.answers[.dns])
            self.answers[.dns] = servers.map(\.description).joined(separator: ",")
        case .console:
            let console = try ApplianceValidation.console(given ?? self.answers[.console])
            self.answers[.console] = console.description
            if !console.isHTTPS { self.answers[.consoleCASHA256] = nil }
        case .consoleCASHA256:
            let console = try ApplianceValidation.console(self.answers[.console])
            self.answers[.consoleCASHA256] = try ApplianceValidation.consoleCASHA256(
                given ?? self.answers[.consoleCASHA256],
                console: console
            )
        case .joinToken:
            self.answers[.joinToken] = try ApplianceValidation.joinToken(given ?? self.answers[.joinToken])
        case .name:
            let hostname = try ApplianceValidation.hostname(self.answers[.hostname])
            let name = try ApplianceValidation.name(given ?? self.answers[.name], hostname: hostname)
            self.answers[.name] = name
            self.nameFollowsHostname = name == ApplianceValidation.defaultName(hostname: hostname)
        case .confirm:
            break
        }
    }

    private mutating func confirm(_ answer: String) -> Action {
        switch answer.lowercased() {
        case "y", "yes":
            guard let settings = self.settings else { return .giveUp("no settings to write") }
            self.finished = true
            return .write(settings)
        case "", "n", "no":
            self.round += 1
            guard self.round <= Self.maximumRounds else {
                self.finished = true
                return .giveUp("no configuration was confirmed in \(Self.maximumRounds) rounds")
            }
            self.badAnswers = 0
            self.question = .hostname
            return .ask(self.prompt)
        default:
            return self.refuse("answer y to write this configuration, or n to change it")
        }
    }

    /// The question after `question`, skipping those that do not apply.
    private func next(after question: Question) -> Question {
        let isStatic = (try? ApplianceValidation.addresses(self.answers[.address]))?.isEmpty == false
        let isHTTPS = (try? ApplianceValidation.console(self.answers[.console]))?.isHTTPS == true
        switch question {
        case .hostname: return .address
        case .address: return isStatic ? .gateway : .console
        case .gateway: return .dns
        case .dns: return .console
        case .console: return isHTTPS ? .consoleCASHA256 : .joinToken
        case .consoleCASHA256: return .joinToken
        case .joinToken: return .name
        case .name, .confirm: return .confirm
        }
    }

    // MARK: - Prompts

    /// The prompt of the current question.
    public var prompt: Prompt {
        let answers = self.answers
        func line(_ label: String, _ value: String?) -> String {
            guard let value, !value.isEmpty else { return "\(label): " }
            return "\(label) [\(value)]: "
        }
        let text: String
        switch self.question {
        case .hostname:
            text = line("Host name", answers[.hostname])
        case .address:
            text = line(
                "Address: dhcp, or CIDR[,CIDR] (one IPv4 and/or one IPv6, like 192.0.2.10/24)",
                answers[.address]
            )
        case .gateway:
            text = line("Gateway (comma separated, one per family; none for no gateway)", answers[.gateway])
        case .dns:
            text = line("DNS servers (comma separated, at most 3; none for none)", answers[.dns])
        case .console:
            text = line("Console URL (https://host[:port] or http://host[:port])", answers[.console])
        case .consoleCASHA256:
            text = line("Console CA certificate's SHA-256 fingerprint", answers[.consoleCASHA256])
        case .joinToken:
            text = line(
                "Join token (halb join-token create NAME, on the console)",
                answers[.joinToken].map(Self.masked)
            )
        case .name:
            let name = answers[.name] ?? answers[.hostname].map { ApplianceValidation.defaultName(hostname: $0) }
            text = line("Device name in the console", name)
        case .confirm:
            text =
                (self.settings.map(Self.summary) ?? "")
                + "Write this configuration? [y/N] "
        }
        return Prompt(question: self.question, text: text, isSecret: self.question == .joinToken)
    }

    /// A join token as the wizard shows it: its first 4 characters and `…`.
    public static func masked(_ token: String) -> String { String(token.prefix(4)) + "…" }

    /// The settings as the wizard shows them before asking to write them.
    public static func summary(_ settings: ApplianceSettings) -> String {
        var rows: [(String, String)] = [
            ("hostname", settings.hostname),
            ("name", settings.name),
            ("address", settings.usesDHCP ? "dhcp" : settings.addresses.map(\.description).joined(separator: ", ")),
        ]
        if !settings.usesDHCP {
            rows.append(
                (
                    "gateway",
                    settings.gateways.isEmpty ? "none" : settings.gateways.map(\.description).joined(separator: ", ")
                )
            )
        }
        if !settings.dns.isEmpty || !settings.usesDHCP {
            rows.append(
                ("dns", settings.dns.isEmpty ? "none" : settings.dns.map(\.description).joined(separator: ", "))
            )
        }
        rows.append(("console", settings.console.description))
        if let fingerprint = settings.consoleCASHA256 { rows.append(("console_ca_sha256", fingerprint)) }
        rows.append(("join_token", Self.masked(settings.joinToken)))
        let width = rows.map(\.0.count).max() ?? 0
        let lines = rows.map { "  \($0.0):" + String(repeating: " ", count: width - $0.0.count + 1) + $0.1 }
        return "\nThe appliance's configuration:\n" + lines.joined(separator: "\n") + "\n\n"
    }
}
