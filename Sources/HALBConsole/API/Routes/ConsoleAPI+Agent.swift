import Foundation
import HALBCore
import HALBWire
import HTTPTypes
import Hummingbird
import ServiceLifecycle

/// The agent API a device talks to.
extension ConsoleAPI {
    /// The devices' side, `/agent/v1`: enrolment, the configuration long poll, ACK/NACK and heartbeats.
    static func addAgentRoutes(
        to router: Router<ConsoleRequestContext>,
        store: any ConsoleStorage,
        longPollTimeout: Duration,
        reachability: ReachabilityBroker
    ) {
        let agent = router.group("agent/v1")
        agent.post("enrol") { request, context in
            let body = try await Self.body(request, context)
            let enrolment = try await store.enrol(
                joinToken: try Self.field("joinToken", in: body),
                device: try Self.field("device", in: body)
            )
            return try Self.json(enrolment, status: .created)
        }
        let enrolled = agent.group().add(middleware: AgentAuthenticationMiddleware(store: store))
        enrolled.get("config") { request, context in
            let device = try context.requireAgent()
            let after = request.uri.queryParameters.get("after").flatMap { Int($0) } ?? 0
            // A console that shuts down answers its long polls at once ("no change"), rather than after 30 s.
            let answer = try await cancelWhenGracefulShutdown {
                try await store.configuration(for: device, after: after, timeout: longPollTimeout)
            }
            guard let answer else {
                return Response(status: .notModified)
            }
            let body = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
            var response = Self.text(body, contentType: "application/json")
            response.headers[Self.signatureHeader] = AgentSigning.signature(of: body, key: device.signingKey)
            return response
        }
        enrolled.post("ack") { request, context in
            let device = try context.requireAgent()
            let body = try await Self.body(request, context)
            guard case .scalar(let text, _) = body["version"], let version = Int(text) else {
                throw ConsoleError.invalidRequest([
                    ConfigurationIssue(path: "version", message: "required: the version applied or refused")
                ])
            }
            var error: String?
            if case .scalar(let text, _) = body["error"] { error = text }
            try await store.acknowledge(device, version: version, error: error)
            return Response(status: .noContent)
        }
        // "Ping host": the checks an admin asked of this device (a long poll), and the device's answers.
        enrolled.get("checks") { request, context in
            let device = try context.requireAgent()
            let wait = try Self.integerParameter("wait", in: request.uri.queryParameters, range: 0...30) ?? 25
            let checks = await cancelWhenGracefulShutdown {
                await reachability.checks(site: device.site, device: device.device, wait: .seconds(wait))
            }
            return try Self.json(checks)
        }
        enrolled.post("checks") { request, context in
            let device = try context.requireAgent()
            let buffer = try await request.body.collect(upTo: 4096)
            let answer: ReachabilityAnswer
            do {
                answer = try JSONDecoder().decode(ReachabilityAnswer.self, from: Data(buffer.readableBytesView))
            } catch {
                throw ConsoleError.badRequest("the body is not a check's answer: \(error)")
            }
            await reachability.answer(site: device.site, device: device.device, answer)
            return Response(status: .noContent)
        }
        enrolled.post("heartbeat") { request, context in
            let device = try context.requireAgent()
            let buffer = try await request.body.collect(upTo: Self.maximumBody)
            let report: AgentReport
            do {
                report = try JSONDecoder().decode(AgentReport.self, from: Data(buffer.readableBytesView))
            } catch {
                throw ConsoleError.badRequest("the heartbeat is not a report: \(error)")
            }
            try await store.heartbeat(device, report: report)
            return Response(status: .noContent)
        }
    }

    /// The header that carries a configuration's signature (HMAC-SHA256 with the device's signing key, hex).
    public static let signatureHeader = HTTPField.Name(AgentSigning.header)!
}
