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
            // The right one signs in.
            try await page.signIn()
            #expect(await eventually { await browser.text("#whoami").contains("admin") })
            _ = try await browser.find("#view-overview")
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

            // The primary stops: the page follows by itself (the marker shows it was not reloaded).
            _ = try await browser.execute("window.halbTestMarker = 'still here'; return true;")
            let stopped = try await httpRequest("POST", page.demo.admin, "/demo/devices/lb1/stop")
            #expect(stopped.hasPrefix("HTTP/1.1 200"))
            #expect(await eventually { await page.primary(of: "web") == "lb2" })
            #expect(await eventually { await page.device("lb1", "state") == "Offline" })
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
            try await page.expectNoConsoleErrors()
        }
    }

    @Test(.enabled(if: WebDriver.available, "needs Debian's chromium and chromium-driver"))
    func everyViewShowsWithoutAnErrorWideAndNarrow() async throws {
        try await PageSession.run { page in
            try await page.signIn()
            _ = try await page.browser.find("#view-overview")
            let views = [
                "overview", "virtual-servers", "gateways", "devices", "certificates", "history", "audit", "users",
            ]
            for view in views {
                try await page.show(view)
                try await Task.sleep(for: .milliseconds(300))  // let the view's requests finish before the picture
                try await page.screenshot(view)
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
}
