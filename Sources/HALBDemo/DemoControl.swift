import Foundation
import Hummingbird

/// The demo's own controls and what it prints: stop and start a gateway or a device over HTTP on the demo's admin
/// address, and the list of things to try.
public enum DemoControl {
    /// `POST /demo/gateways/<name>/stop|start` and `POST /demo/devices/<name>/stop|start` (404 for a name the demo
    /// does not have).
    public static func router(gateways: DemoGateways, devices: DemoDevices) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/demo/gateways/:name/stop") { _, context -> String in
            let name = try context.parameters.require("name")
            guard await gateways.stop(name) else { throw HTTPError(.notFound, message: "no gateway \(name)") }
            return "stopped \(name)\n"
        }
        router.post("/demo/gateways/:name/start") { _, context -> String in
            let name = try context.parameters.require("name")
            guard try await gateways.start(name) else { throw HTTPError(.notFound, message: "no gateway \(name)") }
            return "started \(name)\n"
        }
        router.post("/demo/devices/:name/stop") { _, context -> String in
            let name = try context.parameters.require("name")
            guard devices.stop(name) else { throw HTTPError(.notFound, message: "no device \(name)") }
            return "stopping \(name)\n"
        }
        router.post("/demo/devices/:name/start") { _, context -> String in
            let name = try context.parameters.require("name")
            guard try devices.start(name) else { throw HTTPError(.notFound, message: "no device \(name)") }
            return "started \(name)\n"
        }
        return router
    }

    /// What the demo prints once it runs: README's "Try it" shows the same list (a test compares them).
    public static func instructions(
        listen: String,
        admin: String,
        console: String,
        password: String,
        token: String
    ) -> String {
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
        let lb1 = DemoDevices.adminAddress(of: "lb1")
        let steps: [(String, String)] = [
            ("export PATH=\"\(binary):$PATH\"", ""),
            ("for i in 1 2 3 4 5 6; do curl -s http://\(listen)/; done", "the gateways take turns"),
            ("export HALB_CONSOLE=\(console) HALB_TOKEN=\(token)", ""),
            ("halb status", "lb1 and lb2 OK, lb1 primary of web"),
            ("halb vs show web | sed 's/\"gw2\",//' | halb vs update web -", "drop gw2: both devices follow at once"),
            ("for i in 1 2 3 4; do curl -s http://\(listen)/; done", "only gw1 and gw3 answer"),
            ("halb versions", "the history: version 2 dropped gw2"),
            ("halb rollback 1", "gw2 is back, as version 3"),
            ("curl -s -X POST http://\(admin)/demo/gateways/gw1/stop", "the devices mark gw1 down"),
            ("for i in 1 2 3 4; do curl -s http://\(listen)/; done", "gw2 and gw3 take turns"),
            ("curl -s -X POST http://\(admin)/demo/gateways/gw1/start", "gw1 is back up"),
            ("curl -s -X POST http://\(admin)/demo/devices/lb1/stop", "stop the primary: lb2 takes over"),
            ("for i in 1 2 3 4; do curl -s http://\(listen)/; done", "still answered, now through lb2"),
            ("curl -s -X POST http://\(admin)/demo/devices/lb1/start", "lb1 returns and takes the VIP back"),
            ("curl -s http://\(lb1)/status", "a device's state (JSON)"),
        ]
        let width = steps.filter { !$0.1.isEmpty }.map(\.0.count).max() ?? 0
        let list = steps.map { command, comment in
            comment.isEmpty
                ? "  \(command)"
                : "  \(command.padding(toLength: max(width, command.count), withPad: " ", startingAt: 0))  # \(comment)"
        }.joined(separator: "\n")
        return """

            Open the console's web page: \(console)/   user admin, password \(password)

            HALB demo is running: site "demo", devices lb1 (primary) and lb2 (secondary) serve virtual server "web" on
            http://\(listen)/, balancing gw1, gw2, gw3 (127.0.0.1:18081-18083) by least connections, with HTTP
            health checks every 500ms and failover between the devices (VRRP over UDP on loopback). The devices
            enrolled with the console and take their configuration from it.

            Or try, in another terminal (the first line puts halb on the PATH):
            \(list)

            Press Ctrl-C to stop.

            """
    }
}
