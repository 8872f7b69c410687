import Foundation
import HALBTestSupport
import NIOCore
import Testing

/// A headless Chromium driven through chromedriver's W3C WebDriver HTTP protocol (Debian's `chromium` and
/// `chromium-driver`), for the tests of the console's web page. Every call is bounded; ``quit()`` ends the browser
/// and the driver (the process is also killed when released).
final class WebDriver: Sendable {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    /// Whether this machine has both (the browser tests are skipped, saying why, when it does not).
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: Self.chromium)
            && FileManager.default.isExecutableFile(atPath: Self.chromedriver)
    }

    /// A WebDriver element reference.
    struct Element: Sendable {
        let id: String
    }

    /// An error the driver answered with.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let driver: HALBProcess
    private let base: String
    private let session: String
    /// The browser's profile, in a folder of its own: ``quit()`` ends whatever still runs with it and removes it.
    private let profile: URL

    /// Starts chromedriver on a free loopback port and opens a browser `width`×`height` pixels big.
    init(width: Int = 1280, height: Int = 800) async throws {
        let port = try freePort()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("halb-browser-\(UUID().uuidString)")
        self.profile = profile
        let driver = try HALBProcess(
            executable: URL(fileURLWithPath: Self.chromedriver),
            arguments: ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        )
        self.driver = driver
        self.base = "http://127.0.0.1:\(port)"
        let base = self.base
        var problem = ""
        let ready = await eventually(timeout: .seconds(20)) {
            do {
                let answer = try await Self.call(base, "GET", "/status")
                return ((answer["value"] as? [String: Any])?["ready"] as? Bool) == true
            } catch {
                problem = "\(error)"
                return false
            }
        }
        guard ready else {
            driver.process.terminate()
            throw Failure(description: "chromedriver did not start: \(problem) \(driver.text)")
        }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": Self.chromium,
                        // No sandbox: the tests run as root. No first-run, extension or update traffic: the
                        // browser talks only to the console on loopback.
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--window-size=\(width),\(height)", "--no-first-run", "--disable-extensions",
                            "--disable-background-networking", "--disable-component-update", "--disable-sync",
                            "--disable-default-apps", "--no-default-browser-check", "--hide-scrollbars",
                            "--user-data-dir=\(profile.path)",
                        ],
                    ],
                    "goog:loggingPrefs": ["browser": "ALL"],
                ]
            ]
        ]
        do {
            let answer = try await Self.call(base, "POST", "/session", capabilities, timeout: 60)
            guard let value = answer["value"] as? [String: Any], let session = value["sessionId"] as? String else {
                throw Failure(description: "no session: \(answer)")
            }
            self.session = session
        } catch {
            driver.process.terminate()
            Self.killBrowser(profile: profile)
            throw error
        }
    }

    /// Ends the browser and the driver.
    func quit() async {
        _ = try? await Self.call(self.base, "DELETE", "/session/\(self.session)", timeout: 20)
        self.driver.process.terminate()
        _ = await self.driver.exitCode()
        Self.killBrowser(profile: self.profile)
    }

    /// Ends every browser process still running with `profile`, and removes it.
    private static func killBrowser(profile: URL) {
        let pkill = Process()
        pkill.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        pkill.arguments = ["-KILL", "-f", "--", "--user-data-dir=\(profile.path)"]
        if (try? pkill.run()) != nil { pkill.waitUntilExit() }
        try? FileManager.default.removeItem(at: profile)
    }

    // MARK: Commands

    func open(_ url: String) async throws {
        _ = try await self.command("POST", "url", ["url": url])
    }

    /// The first element matching `css`, waiting up to `timeout` for it to appear.
    func find(_ css: String, timeout: Duration = .seconds(15)) async throws -> Element {
        var found: Element?
        _ = await eventually(timeout: timeout) {
            found = try? await self.findNow(css)
            return found != nil
        }
        guard let found else { throw Failure(description: "no element \(css) within \(timeout)") }
        return found
    }

    /// The first element matching `css` now, if any.
    func findNow(_ css: String) async throws -> Element? {
        let answer = try await self.command("POST", "element", ["using": "css selector", "value": css])
        guard let value = answer as? [String: Any], let id = value.values.first as? String else { return nil }
        return Element(id: id)
    }

    func click(_ element: Element) async throws {
        _ = try await self.command("POST", "element/\(element.id)/click", [:])
    }

    /// Clicks the first element matching `css`, finding it again while the page redraws it (a status update may
    /// replace the element between finding and clicking it), for up to `timeout`.
    func click(_ css: String, timeout: Duration = .seconds(15)) async throws {
        var problem: any Error = Failure(description: "no element \(css) within \(timeout)")
        let clicked = await eventually(timeout: timeout) {
            do {
                guard let element = try await self.findNow(css) else { return false }
                try await self.click(element)
                return true
            } catch {
                problem = error
                return false
            }
        }
        if !clicked { throw problem }
    }

    func type(_ text: String, into element: Element) async throws {
        _ = try await self.command("POST", "element/\(element.id)/clear", [:])
        _ = try await self.command("POST", "element/\(element.id)/value", ["text": text])
    }

    /// The element's rendered text.
    func text(_ element: Element) async throws -> String {
        try await self.command("GET", "element/\(element.id)/text") as? String ?? ""
    }

    /// The text of the first element matching `css`, or "" when there is none.
    func text(_ css: String) async -> String {
        guard let element = try? await self.findNow(css) else { return "" }
        return (try? await self.text(element)) ?? ""
    }

    /// Presses `keys` one after the other on whatever has the focus, as a user at the keyboard does (WebDriver's
    /// key codes: ``tab``, ``enter``).
    func press(_ keys: [String]) async throws {
        let actions = keys.flatMap { [["type": "keyDown", "value": $0], ["type": "keyUp", "value": $0]] }
        _ = try await self.command(
            "POST",
            "actions",
            ["actions": [["type": "key", "id": "keyboard", "actions": actions]]]
        )
    }

    static let tab = "\u{E004}"
    static let enter = "\u{E007}"

    /// Runs `script` (a function body; `arguments[0]`... are `arguments`) in the page and returns its result.
    func execute(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await self.command("POST", "execute/sync", ["script": script, "args": arguments])
    }

    /// Runs an async `script` whose last argument is the callback to call with the result.
    func executeAsync(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await self.command("POST", "execute/async", ["script": script, "args": arguments])
    }

    /// A PNG of the window.
    func screenshot() async throws -> Data {
        guard let text = try await self.command("GET", "screenshot") as? String, let data = Data(base64Encoded: text)
        else { throw Failure(description: "no screenshot") }
        return data
    }

    func setWindowSize(width: Int, height: Int) async throws {
        _ = try await self.command("POST", "window/rect", ["width": width, "height": height])
    }

    /// The browser's console messages since the last call (level and text).
    func browserLog() async throws -> [(level: String, message: String)] {
        let answer = try await self.command("POST", "se/log", ["type": "browser"])
        return (answer as? [[String: Any]] ?? []).map {
            (level: $0["level"] as? String ?? "", message: $0["message"] as? String ?? "")
        }
    }

    // MARK: Transport

    /// Sends a WebDriver command of this session (`path` below `/session/{id}/`) and returns its value.
    func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        let answer = try await Self.call(self.base, method, "/session/\(self.session)/\(path)", body)
        let value = answer["value"]
        if let error = value as? [String: Any], let kind = error["error"] as? String {
            throw Failure(description: "\(method) \(path): \(kind): \(error["message"] as? String ?? "")")
        }
        return value is NSNull ? nil : value
    }

    /// One request to chromedriver (`Connection: close`, so the answer ends with the connection), bounded by
    /// `timeout` seconds.
    private static func call(
        _ base: String,
        _ method: String,
        _ path: String,
        _ body: [String: Any]? = nil,
        timeout: Int = 30
    ) async throws -> [String: Any] {
        let address = base.replacingOccurrences(of: "http://", with: "")
        let parts = address.split(separator: ":")
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let client = try await TestClient.connect(host: String(parts[0]), port: Int(parts[1])!)
        let response = try await withTimeout(.seconds(timeout)) {
            try await client.run { inbound, outbound in
                var request = ByteBuffer(
                    string: "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
                )
                request.writeBytes(payload)
                try await outbound.write(request)
                // chromedriver keeps the connection open: the answer ends after Content-Length bytes of body.
                var reader = inbound.makeAsyncIterator()
                var received = Data()
                while var chunk = try await reader.next() {
                    received.append(contentsOf: chunk.readBytes(length: chunk.readableBytes) ?? [])
                    guard let end = received.firstRange(of: Data("\r\n\r\n".utf8)) else { continue }
                    let head = String(decoding: received[..<end.lowerBound], as: UTF8.self).lowercased()
                    let length = head.firstMatch(of: /content-length: *(\d+)/).flatMap { Int($0.1) } ?? 0
                    if received.count - (end.upperBound - received.startIndex) >= length { break }
                }
                return received
            }
        }
        guard let end = response.firstRange(of: Data("\r\n\r\n".utf8)),
            let object = try JSONSerialization.jsonObject(with: response[end.upperBound...]) as? [String: Any]
        else {
            throw Failure(
                description: "\(method) \(path): not a JSON answer: \(String(decoding: response, as: UTF8.self))"
            )
        }
        return object
    }
}
