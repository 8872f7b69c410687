import HALBAppliance
import Testing

/// Drives a wizard with lines of input and records what it asked.
private struct WizardRun {
    var wizard: ApplianceWizardStateMachine
    var action: ApplianceWizardStateMachine.Action
    var asked: [ApplianceWizardStateMachine.Question] = []
    var messages: [String] = []
    var prompts: [String] = []

    init(defaults: ApplianceInput = ApplianceInput()) {
        self.wizard = ApplianceWizardStateMachine(defaults: defaults)
        self.action = self.wizard.start()
        self.record()
    }

    private mutating func record() {
        switch self.action {
        case .ask(let prompt):
            self.asked.append(prompt.question)
            self.prompts.append(prompt.text)
        case .retry(let message, let prompt):
            self.messages.append(message)
            self.asked.append(prompt.question)
            self.prompts.append(prompt.text)
        default:
            break
        }
    }

    /// Feeds `lines` (`nil`: end of input) and returns the last action.
    @discardableResult
    mutating func feed(_ lines: String?...) -> ApplianceWizardStateMachine.Action {
        for line in lines {
            self.action = self.wizard.receive(line)
            self.record()
        }
        return self.action
    }

    var settings: ApplianceSettings? {
        if case .write(let settings) = self.action { return settings }
        return nil
    }
}

@Suite struct ApplianceWizardStateMachineTests {
    @Test func staticHappyPath() throws {
        var run = WizardRun()
        #expect(run.prompts.first == "Host name: ")
        run.feed(
            "lb1",
            "192.0.2.10/24, 2001:db8::10/64",
            "192.0.2.1",
            "192.0.2.53",
            "https://console.example.net:8443",
            String(repeating: "AB:", count: 31) + "AB",
            "tok-12345",
            ""
        )
        #expect(
            run.asked == [.hostname, .address, .gateway, .dns, .console, .consoleCASHA256, .joinToken, .name, .confirm]
        )
        #expect(run.prompts[1].hasSuffix("[dhcp]: "))
        #expect(run.prompts[7] == "Device name in the console [lb1]: ")
        let summary = try #require(run.prompts.last)
        #expect(summary.contains("  join_token:        tok-…\n"), "\(summary)")
        #expect(!summary.contains("tok-12345"))
        #expect(summary.contains("  address:           192.0.2.10/24, 2001:db8::10/64\n"), "\(summary)")
        #expect(summary.hasSuffix("Write this configuration? [y/N] "))
        run.feed("y")
        let settings = try #require(run.settings)
        #expect(settings.name == "lb1")
        #expect(settings.gateways.map(\.description) == ["192.0.2.1"])
        #expect(settings.consoleCASHA256 == sampleFingerprint)
    }

    @Test func dhcpAndHTTPSkipTheQuestionsThatDoNotApply() throws {
        var run = WizardRun()
        run.feed("lb1", "", "http://console:8080", "tok", "edge", "yes")
        #expect(run.asked == [.hostname, .address, .console, .joinToken, .name, .confirm])
        let settings = try #require(run.settings)
        #expect(settings.usesDHCP)
        #expect(settings.name == "edge")
        #expect(run.wizard.prompt.question == .confirm)
    }

    @Test func aBadAnswerIsRefusedAndAskedAgain() throws {
        var run = WizardRun()
        run.feed("lb1", "192.0.2.300/24")
        #expect(run.messages == [#"address: "192.0.2.300/24" is not an IPv4 or IPv6 address with a prefix length"#])
        #expect(run.asked == [.hostname, .address, .address])
        run.feed("192.0.2.10/24", "10.0.0.1")
        #expect(run.messages.last == #"gateway: "10.0.0.1" is not in the network of address 192.0.2.10/24"#)
        #expect(run.asked.last == .gateway)
        run.feed("none", "", "http://c", "t", "", "y")
        let settings = try #require(run.settings)
        #expect(settings.gateways.isEmpty)
        #expect(settings.addresses.map(\.description) == ["192.0.2.10/24"])
    }

    @Test func noStartsOverWithTheAnswersAsDefaults() throws {
        var run = WizardRun()
        run.feed("lb1", "", "http://console:8080", "tok-abc", "", "n")
        #expect(run.asked.last == .hostname)
        #expect(run.prompts.last == "Host name [lb1]: ")
        // A new host name: the device name follows it, since it was the default.
        run.feed("lb7", "")
        #expect(run.prompts.last == "Console URL (https://host[:port] or http://host[:port]) [http://console:8080]: ")
        run.feed("", "")
        #expect(run.prompts.last == "Device name in the console [lb7]: ")
        run.feed("", "y")
        let settings = try #require(run.settings)
        #expect(settings.hostname == "lb7")
        #expect(settings.name == "lb7")
        #expect(settings.joinToken == "tok-abc")
    }

    @Test func theJoinTokenIsASecretAndItsDefaultMasked() {
        var run = WizardRun(defaults: ApplianceInput([.hostname: "lb1", .console: "http://c", .joinToken: "abcdefgh"]))
        run.feed("", "", "")
        guard case .ask(let prompt) = run.action else {
            Issue.record("expected a question, got \(run.action)")
            return
        }
        #expect(prompt.question == .joinToken)
        #expect(prompt.isSecret)
        #expect(prompt.text == "Join token (halb join-token create NAME, on the console) [abcd…]: ")
    }

    @Test func endOfInputAborts() {
        var run = WizardRun()
        #expect(run.feed("lb1", nil) == .abort)
        #expect(run.settings == nil)
        var confirming = WizardRun()
        confirming.feed("lb1", "", "http://c", "t", "")
        #expect(confirming.feed(nil) == .abort)
    }

    @Test func tenBadAnswersToOneQuestionGiveUp() {
        var run = WizardRun()
        for attempt in 1..<ApplianceWizardStateMachine.maximumBadAnswers {
            guard case .retry = run.feed("not a host") else {
                Issue.record("attempt \(attempt): \(run.action)")
                return
            }
        }
        guard case .giveUp(let message) = run.feed("still_not") else {
            Issue.record("expected to give up, got \(run.action)")
            return
        }
        #expect(message.contains("10 answers to the same question were refused; giving up"))
        // Anything after the end is refused too.
        guard case .giveUp = run.feed("lb1") else {
            Issue.record("the wizard went on after giving up: \(run.action)")
            return
        }
    }

    @Test func fiveRoundsWithoutYesGiveUp() {
        var run = WizardRun()
        run.feed("lb1", "", "http://c", "t", "")
        for _ in 1..<ApplianceWizardStateMachine.maximumRounds {
            run.feed("n")
            #expect(run.asked.last == .hostname)
            run.feed("", "", "", "", "")
            #expect(run.asked.last == .confirm)
        }
        guard case .giveUp(let message) = run.feed("") else {
            Issue.record("expected to give up, got \(run.action)")
            return
        }
        #expect(message == "no configuration was confirmed in 5 rounds")
    }

    @Test func anUnclearConfirmationIsAskedAgain() throws {
        var run = WizardRun()
        run.feed("lb1", "", "http://c", "t", "", "maybe")
        #expect(run.messages == ["answer y to write this configuration, or n to change it"])
        #expect(run.asked.last == .confirm)
        run.feed("Y")
        #expect(run.settings != nil)
    }
}
