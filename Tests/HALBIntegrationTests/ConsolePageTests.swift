import Foundation
import HALBTestSupport
import Testing

/// The console's web page in a real browser (headless Chromium through chromedriver), against `halb demo`: the
/// console, two devices enrolled with it and three gateways. In DemoTests, so they run one after the other with
/// the other demo tests (the demo's addresses are fixed).
///
/// Every test fails on a console error in the browser's log. Screenshots go to `.build/screenshots/`, and to
/// docs/images/ (what docs/console.md shows) when `HALB_UPDATE_SCREENSHOTS=1`.
extension DemoTests {
    /// A demo with a browser signed in as `user`.
    struct PageSession {
        let demo: Demo
        let browser: WebDriver
        let password: String

        /// Runs `body` with a demo and a browser, and stops both after it, also when it fails.
        static func run(_ body: (PageSession) async throws -> Void) async throws {
            let demo = try await Demo.start()
            let password = demo.process.text.firstMatch(
                of: /Open the console's web page: \S+ +user admin, password (\S+)\n/
            )?.1
            let browser: WebDriver
            do {
                browser = try await WebDriver()
            } catch {
                await Self.stop(demo)
                throw error
            }
            let page = PageSession(demo: demo, browser: browser, password: String(password ?? ""))
            do {
                #expect(password != nil, "the demo printed no password: \(demo.process.text)")
                try await body(page)
            } catch {
                await browser.quit()
                await Self.stop(demo)
                throw error
            }
            await browser.quit()
            await Self.stop(demo)
        }

        private static func stop(_ demo: Demo) async {
            demo.process.signal(SIGINT)
            if await demo.process.exitCode() == nil { demo.process.signal(SIGKILL) }
        }

        /// Opens the page and signs in.
        func signIn(_ user: String = "admin", password: String? = nil) async throws {
            try await self.browser.open(self.demo.console + "/")
            try await self.browser.type(user, into: try await self.browser.find("#signin-user"))
            try await self.browser.type(
                password ?? self.password,
                into: try await self.browser.find("#signin-password")
            )
            try await self.browser.click("#signin-submit")
        }

        /// Shows view `name` (`#/name`) and waits for it.
        func show(_ name: String) async throws {
            try await self.browser.click("nav a[href='#/\(name)']")
            _ = try await self.browser.find("#view-\(name)")
        }

        /// Fails the test on any error the page logged: a script error, a CSP violation, a file of the page not
        /// found, a 5xx. (Chromium also logs every API answer of 4xx, which the page expects and shows — a 401 before
        /// signing in, a refused change — so those do not count.)
        func expectNoConsoleErrors(sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let errors = try await self.browser.browserLog().filter { entry in
                entry.level == "SEVERE"
                    && !entry.message.contains(
                        /\/api\/v1\/\S* - Failed to load resource: the server responded with a status of 4\d\d/
                    )
            }
            #expect(errors.isEmpty, "browser console: \(errors.map(\.message))", sourceLocation: sourceLocation)
        }

        /// Saves a screenshot as `console-<name>.png`.
        func screenshot(_ name: String) async throws {
            let png = try await self.browser.screenshot()
            var folders = [packageRoot().appendingPathComponent(".build/screenshots")]
            if ProcessInfo.processInfo.environment["HALB_UPDATE_SCREENSHOTS"] == "1" {
                folders.append(packageRoot().appendingPathComponent("docs/images"))
            }
            for folder in folders {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try png.write(to: folder.appendingPathComponent("console-\(name).png"))
            }
        }

        /// Uploads the certificate `chain` and `key` (files) as `name` on the Certificates page.
        func uploadCertificate(_ name: String, chain: String, key: String) async throws {
            try await self.show("certificates")
            try await self.browser.type(name, into: try await self.browser.find("#certificate-name"))
            // A file input takes the file's path.
            for (input, file) in [("#certificate-chain", chain), ("#certificate-key", key)] {
                let element = try await self.browser.find(input)
                _ = try await self.browser.command("POST", "element/\(element.id)/value", ["text": file])
            }
            try await self.browser.click("#certificate-upload")
            _ = try await self.browser.find("#view-certificates [data-certificate='\(name)']")
        }

        /// Clicks the wizard's Next until its last step (the review, with Save) shows.
        func nextUntilReview() async throws {
            for _ in 0..<10 {
                let saveShown = try await self.browser.execute(
                    "const save = document.querySelector('#wizard-save'); return save !== null && !save.hidden;"
                )
                if saveShown as? Bool == true { return }
                try await self.browser.click("#wizard-next")
            }
            throw WebDriver.Failure(description: "the wizard did not reach its review")
        }

        /// The text of `field` in the overview's row of device `name`.
        func device(_ name: String, _ field: String) async -> String {
            await self.browser.text("#view-overview [data-device='\(name)'] [data-field='\(field)']")
        }

        /// The primary device of virtual server `name` as the overview shows it.
        func primary(of name: String) async -> String {
            await self.browser.text("#view-overview [data-virtual-server='\(name)'] [data-field='primary']")
        }
    }

    @Test(.enabled(if: WebDriver.available, "needs Debian's chromium and chromium-driver"))
    func theWebPageSignsInShowsTheDevicesAndFollowsAFailoverWithoutAReload() async throws {
        try await PageSession.run { page in
            let browser = page.browser

            // A wrong password is refused, and says so.
            try await page.signIn(password: "not-the-password")
            #expect(await eventually { await !browser.text("#signin-error").isEmpty })
            let signedInAs = await browser.text("#whoami")
            #expect(signedInAs.isEmpty, "signed in with a wrong password: \(signedInAs)")
            // The right one signs in, from the keyboard: Enter in the password field.
            try await browser.open(page.demo.console + "/")
            try await browser.type("admin", into: try await browser.find("#signin-user"))
            try await browser.type(page.password + WebDriver.enter, into: try await browser.find("#signin-password"))
            #expect(await eventually { await browser.text("#whoami").contains("admin") })
            _ = try await browser.find("#view-overview")

            // Keyboard navigation: Tab reaches the sections' links (first "Skip to content"), the focus is visible
            // (an outline), and Enter opens the section.
            _ = try await browser.execute("document.activeElement.blur(); return true;")
            var focused = ""
            for _ in 0..<20 where focused != "#/gateways" {
                try await browser.press([WebDriver.tab])
                focused =
                    try await browser.execute("return document.activeElement.getAttribute('href') || '';")
                    as? String ?? ""
            }
            #expect(focused == "#/gateways", "Tab never reached the Gateways link")
            let outline = try await browser.execute(
                "return getComputedStyle(document.activeElement).outlineStyle;"
            )
            #expect(outline as? String == "solid", "the focused link shows no outline: \(outline ?? "")")
            try await browser.press([WebDriver.enter])
            _ = try await browser.find("#view-gateways")
            try await page.show("overview")
            var shown = ""
            #expect(
                await eventually {
                    let lb1 = await page.device("lb1", "state")
                    let lb2 = await page.device("lb2", "state")
                    let primary = await page.primary(of: "web")
                    shown = "lb1 \(lb1), lb2 \(lb2), primary \(primary)"
                    return lb1 == "OK" && lb2 == "OK" && primary == "lb1"
                },
                "\(shown)"
            )
            try await page.screenshot("overview")

            // The primary is killed (kill -9: no last word to the console): the page follows by itself within a few
            // seconds, lb2 the primary as soon as it takes over (its heartbeat on the transition supersedes lb1's
            // claim), lb1 offline after three missed heartbeats (6 s). The marker shows the page was not reloaded.
            // (The bounds leave room for a loaded machine; the times are printed.)
            _ = try await browser.execute("window.halbTestMarker = 'still here'; return true;")
            let demoID = page.demo.process.process.processIdentifier
            let kill = try HALBProcess(
                executable: URL(fileURLWithPath: "/usr/bin/pkill"),
                arguments: [
                    "-KILL", "-f", "--",
                    "--state \(FileManager.default.temporaryDirectory.path)/halb-demo-\(demoID)/lb1 ",
                ]
            )
            let killed = ContinuousClock.now
            #expect(await kill.exitCode() == 0, "lb1's process was not found: \(kill.text)")
            #expect(await eventually(timeout: .seconds(10)) { await page.primary(of: "web") == "lb2" })
            let promoted = ContinuousClock.now - killed
            #expect(await eventually(timeout: .seconds(15)) { await page.device("lb1", "state") == "Offline" })
            print(
                "The page showed lb2 primary \(promoted) and lb1 Offline \(ContinuousClock.now - killed) after the kill"
            )
            #expect(try await browser.execute("return window.halbTestMarker;") as? String == "still here")
            try await page.screenshot("overview-failover")

            // Signing out ends the session: the sign-in form is back, and the session's cookie no longer works.
            try await browser.click("#signout")
            _ = try await browser.find("#signin-form")
            let status = try await browser.executeAsync(
                "const done = arguments[0]; fetch('/api/v1/session').then(r => done(r.status), () => done(0));"
            )
            #expect(status as? Int == 401)
            try await page.expectNoConsoleErrors()
        }
    }

    @Test(.enabled(if: WebDriver.available, "needs Debian's chromium and chromium-driver"))
    func aGatewayIsDrainedWithOneClickAndTheDevicesStopSendingItClients() async throws {
        try await PageSession.run { page in
            let browser = page.browser
            try await page.signIn()
            #expect(await eventually(timeout: .seconds(20)) { await self.answer().hasPrefix("gw") })
            try await page.show("gateways")
            try await page.screenshot("gateways")
            try await browser.click("#view-gateways [data-gateway='gw2'] [data-action='drain']")
            #expect(
                await eventually {
                    await browser.text("#view-gateways [data-gateway='gw2'] [data-field='state']").contains("draining")
                }
            )
            // The devices follow: gw2 gets no new clients, the others still do.
            #expect(
                await eventually {
                    var seen: Set<String> = []
                    for _ in 0..<6 { seen.insert(await self.answer()) }
                    return seen == ["gw1", "gw3"]
                }
            )

            // History rolls the drain back (after a confirmation), and the devices follow: gw2 serves again.
            try await page.show("history")
            try await browser.click("#view-history [data-version='1'] [data-action='rollback']")
            try await browser.click("#confirm-yes")
            #expect(await eventually { (try? await browser.findNow("#view-history [data-version='3']")) != nil })
            try await page.screenshot("history")
            #expect(
                await eventually {
                    var seen: Set<String> = []
                    for _ in 0..<6 { seen.insert(await self.answer()) }
                    return seen.contains("gw2")
                }
            )

            // The audit log shows both changes, and its filter by kind leaves out the site's creation.
            try await page.show("audit")
            _ = try await browser.find("#view-audit [data-audit]")
            _ = try await browser.execute(
                """
                const kind = document.querySelector('#audit-kind');
                kind.value = 'update';
                kind.dispatchEvent(new Event('change', {bubbles: true}));
                return true;
                """
            )
            let kinds =
                "return Array.from(document.querySelectorAll('#view-audit tr[data-audit] td:nth-child(3)'))"
                + ".map(cell => cell.textContent);"
            var shown: [String] = []
            #expect(
                await eventually {
                    shown = (try? await browser.execute(kinds)) as? [String] ?? []
                    return shown == ["update", "update"]
                },
                "\(shown)"
            )
            try await page.screenshot("audit")
            try await page.expectNoConsoleErrors()
        }
    }

    @Test(.enabled(if: WebDriver.available, "needs Debian's chromium and chromium-driver"))
    func aReadOnlyUserSeesEverythingAndCanChangeNothing() async throws {
        try await PageSession.run { page in
            let browser = page.browser
            let created = try await page.demo.halb(
                ["user", "create", "viewer"],
                environment: page.demo.environment.merging(["HALB_NEW_PASSWORD": "viewer password 1"]) { $1 }
            )
            #expect(created.status == 0, "\(created.output)")
            try await page.signIn("viewer", password: "viewer password 1")
            #expect(await eventually { await browser.text("#whoami").contains("read-only") })
            _ = try await browser.find("#view-overview [data-device='lb1']")
            // Every control that changes something is disabled, on every page that has them.
            for view in ["gateways", "virtual-servers", "devices", "certificates", "history"] {
                try await page.show(view)
                _ = try await browser.find("#view-\(view) button")
                let enabled = try await browser.execute(
                    """
                    return Array.from(document.querySelectorAll('#view-\(view) button'))
                        .filter(b => !b.disabled && !/^(Show|Difference|Copy)/.test(b.textContent.trim()))
                        .map(b => b.textContent.trim());
                    """
                )
                #expect((enabled as? [String] ?? ["?"]).isEmpty, "\(view): enabled \(enabled ?? "?")")
            }
            #expect(
                try await browser.execute(
                    "return document.querySelector(\"#view-history [data-action='rollback']\").disabled;"
                ) as? Bool == true
            )
            try await page.show("gateways")
            try await page.screenshot("gateways-read-only")
            // A request forced past the page, with the session's own CSRF token, is refused all the same.
            let status = try await browser.executeAsync(
                """
                const done = arguments[0];
                fetch('/api/v1/session').then(r => r.json()).then(session =>
                    fetch('/api/v1/sites/demo/gateways/gw2', {
                        method: 'DELETE', headers: {'X-CSRF-Token': session.csrfToken, 'If-Match': '"1"'}
                    })
                ).then(r => done(r.status), () => done(0));
                """
            )
            #expect(status as? Int == 403)
            try await page.expectNoConsoleErrors()
        }
    }

    @Test(.enabled(if: WebDriver.available, "needs Debian's chromium and chromium-driver"))
    func anUploadedCertificateShowsItsExpiry() async throws {
        let folder = try TemporaryDirectory()
        let (chain, key) = try await makeCertificate(
            in: folder,
            name: "portal.example.com",
            subjectAltName: "DNS:portal.example.com"
        )
        try await PageSession.run { page in
            let browser = page.browser
            try await page.signIn()
            try await page.uploadCertificate("portal", chain: chain, key: key)
            let expiry = "#view-certificates [data-certificate='portal'] [data-field='expiry']"
            // It expires within two days: the days left are shown, in the warning colour.
            #expect(await eventually { await browser.text(expiry).contains("expires in") })
            let warned = try await browser.execute("return document.querySelector(arguments[0]).className;", [expiry])
            #expect((warned as? String)?.contains("warning") == true, "\(warned ?? "?")")
            // Its names, as the API reads them from the chain.
            #expect(
                await browser.text("#view-certificates [data-certificate='portal']").contains("DNS:portal.example.com")
            )
            try await page.screenshot("certificates")
            try await page.expectNoConsoleErrors()
        }
    }

    @Test(.enabled(if: WebDriver.available, "needs Debian's chromium and chromium-driver"))
    func everyViewShowsWithoutAnErrorWideAndNarrow() async throws {
        try await PageSession.run { page in
            try await page.signIn()
            _ = try await page.browser.find("#view-overview")
            // The pictures show the site running: lb1 primary, both devices OK.
            #expect(
                await eventually {
                    let primary = await page.primary(of: "web")
                    let lb2 = await page.device("lb2", "state")
                    return primary == "lb1" && lb2 == "OK"
                }
            )
            let views = [
                "overview", "virtual-servers", "gateways", "devices", "certificates", "history", "audit", "users",
            ]
            for view in views {
                try await page.show(view)
                try await Task.sleep(for: .milliseconds(300))  // let the view's requests finish before the picture
                // The pages other tests picture with something on them are not pictured empty here.
                if !["gateways", "certificates", "history", "audit"].contains(view) { try await page.screenshot(view) }
                // Every control has a name a screen reader says: a label, or aria-label.
                let unnamed = try await page.browser.execute(
                    """
                    return Array.from(document.querySelectorAll('input, select, textarea'))
                        .filter(c => c.type !== 'hidden' && !c.closest('[hidden]'))
                        .filter(c => c.labels.length === 0 && !c.getAttribute('aria-label'))
                        .map(c => c.outerHTML.slice(0, 80));
                    """
                )
                #expect((unnamed as? [String] ?? ["?"]).isEmpty, "\(view): unlabelled \(unnamed ?? "?")")
                try await page.expectNoConsoleErrors()
            }
            // 500 pixels: the narrowest window headless Chromium makes.
            try await page.browser.setWindowSize(width: 500, height: 800)
            try await page.show("overview")
            try await Task.sleep(for: .milliseconds(300))
            try await page.screenshot("overview-narrow")
            // Narrow, nothing is wider than the window (tables scroll inside their own box).
            let overflow = try await page.browser.execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
            )
            #expect((overflow as? Int ?? 1) <= 0, "the page is \(overflow ?? "?") px wider than a narrow window")
            try await page.expectNoConsoleErrors()
        }
    }

    @Test(.enabled(if: WebDriver.available, "needs Debian's chromium and chromium-driver"))
    func theWizardShowsTheAPIsErrorAtItsFieldAndTheSavedVirtualServerServesClients() async throws {
        let folder = try TemporaryDirectory()
        let (chain, key) = try await makeCertificate(
            in: folder,
            name: "secure.example.com",
            subjectAltName: "IP:127.0.0.20"
        )
        try await PageSession.run { page in
            let browser = page.browser
            try await page.signIn()
            try await page.uploadCertificate("secure", chain: chain, key: key)
            try await page.show("virtual-servers")
            try await browser.click("#add-virtual-server")
            // Basics, then the VIP.
            try await browser.type("secure", into: try await browser.find("[data-path='name']"))
            try await browser.click("#wizard-next")
            try await browser.type("127.0.0.20/8", into: try await browser.find("[data-path='vip.ipv4']"))
            try await browser.click("#wizard-next")
            // Both devices, lb1 first.
            try await browser.click("#wizard-device-add-button")
            try await browser.click("#wizard-device-add-button")
            try await browser.click("#wizard-next")
            // An ssl payload that offloads TLS with the uploaded certificate, on a port that cannot be.
            try await browser.click("input[data-path='payloads.ssl']")
            let port = try await browser.find("[data-path='payloads.ssl.port']")
            try await browser.type("70000", into: port)
            _ = try await browser.execute(
                """
                const set = (path, value) => {
                    const select = document.querySelector(`[data-path='${path}']`);
                    select.value = value;
                    select.dispatchEvent(new Event('change', {bubbles: true}));
                };
                set('payloads.ssl.mode', 'offload');
                set('payloads.ssl.managedCertificate', 'secure');
                return true;
                """
            )
            // On to the review, which shows the new virtual server before it is saved.
            try await page.nextUntilReview()
            #expect(await browser.text("#change-diff").contains("70000"))
            try await page.screenshot("virtual-server-review")
            try await browser.click("#wizard-save")
            // The API refuses the port; its message shows next to the port field, whose step is opened again.
            let errorNextToPort = """
                const input = document.querySelector("[data-path='payloads.ssl.port']");
                const next = (input.closest('.field') || input).nextElementSibling;
                return next && next.classList.contains('field-error') && input.offsetParent !== null
                    ? next.textContent : '';
                """
            var message = ""
            #expect(
                await eventually {
                    message = (try? await browser.execute(errorNextToPort)) as? String ?? ""
                    return message.contains("70000")
                },
                "\(message)"
            )
            try await page.screenshot("virtual-server-error")
            // Fixed, it saves, and a client reaches the new VIP through a device: TLS ends there, and a gateway
            // answers.
            try await browser.type("8443", into: try await browser.find("[data-path='payloads.ssl.port']"))
            try await page.nextUntilReview()
            try await browser.click("#wizard-save")
            _ = try await browser.find("#view-virtual-servers [data-virtual-server='secure']", timeout: .seconds(20))
            var answer = ""
            #expect(
                await eventually {
                    let curl = try? HALBProcess(
                        executable: URL(fileURLWithPath: "/usr/bin/curl"),
                        arguments: ["-sk", "--max-time", "3", "https://127.0.0.20:8443/"]
                    )
                    _ = await curl?.exitCode()
                    answer = curl?.text ?? ""
                    return answer.contains("Hello from gw")
                },
                "\(answer)"
            )

            // "Ping host" from the Devices page: lb1 reaches gw1; once gw1 stops, it says the connection is refused.
            try await page.show("devices")
            try await browser.click("#view-devices [data-device='lb1'] [data-action='ping']")
            try await browser.click("#ping-submit")
            #expect(await eventually { await browser.text("#ping-result").hasPrefix("Reachable") })
            try await page.screenshot("devices-ping")
            _ = try await httpRequest("POST", page.demo.admin, "/demo/gateways/gw1/stop")
            try await browser.click("#ping-submit")
            var result = ""
            #expect(
                await eventually {
                    result = await browser.text("#ping-result")
                    return result.contains("connection refused")
                },
                "\(result)"
            )
            try await page.expectNoConsoleErrors()
        }
    }
}
