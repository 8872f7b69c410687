import AsyncHTTPClient
import Crypto
import Foundation
import HALBWire
import NIOCore
import NIOHTTP1

/// A configuration from the console: the device's part of its site, and the certificates it names.
public struct ConfigurationUpdate: Sendable {
    public var version: Int
    /// The site file (YAML) as the console sent it (`managedCertificate` names unresolved).
    public var yaml: String
    public var certificates: [ManagedCertificate]

    public init(version: Int, yaml: String, certificates: [ManagedCertificate] = []) {
        self.version = version
        self.yaml = yaml
        self.certificates = certificates
    }
}

/// A certificate uploaded to the console, as the device received it (the key opened).
public struct ManagedCertificate: Sendable {
    public var name: String
    /// The chain, PEM.
    public var certificate: String
    /// The private key, PEM.
    public var privateKey: String
}

/// The device's side of the console's `/agent/v1` API.
public struct AgentClient: Sendable {
    public let identity: AgentIdentity
    private let http: HTTPClient

    public init(identity: AgentIdentity, http: HTTPClient) {
        self.identity = identity
        self.http = http
    }

    /// Enrols device `device` with a one-time join token and returns its identity (to be stored).
    ///
    /// - Throws: ``AgentError`` when the console is unreachable or refuses the token.
    public static func enrol(
        console: String,
        joinToken: String,
        device: String,
        http: HTTPClient
    ) async throws -> AgentIdentity {
        let base = console.hasSuffix("/") ? String(console.dropLast()) : console
        let (status, body, _) = try await Self.send(
            http,
            method: .POST,
            url: "\(base)/agent/v1/enrol",
            credential: nil,
            body: try JSONEncoder().encode(EnrolmentRequest(joinToken: joinToken, device: device)),
            timeout: .seconds(15)
        )
        guard status == 201 else { throw AgentError.refused(status: status, message: Self.message(body)) }
        guard let answer = try? JSONDecoder().decode(Enrolment.self, from: Data(body.utf8)) else {
            throw AgentError.console("the console's enrolment answer is not understood")
        }
        return AgentIdentity(
            console: base,
            site: answer.site,
            device: answer.device,
            credential: answer.credential,
            signingKey: answer.signingKey
        )
    }

    /// The device's configuration once it is newer than `version`: at once if it is, else when it changes, or `nil`
    /// after about `wait` without a change.
    ///
    /// - Throws: ``AgentError`` for an unreachable console, a refusal, or a configuration without a valid signature
    ///   (or with a certificate key that does not open with this device's key).
    public func configuration(after version: Int, wait: Duration = .seconds(30)) async throws -> ConfigurationUpdate? {
        let (status, body, headers) = try await Self.send(
            self.http,
            method: .GET,
            url: "\(self.identity.console)/agent/v1/config?after=\(version)",
            credential: self.identity.credential,
            body: nil,
            timeout: wait + .seconds(15)
        )
        if status == 304 { return nil }
        guard status == 200 else { throw AgentError.refused(status: status, message: Self.message(body)) }
        guard let signature = headers.first(name: AgentSigning.header),
            AgentSigning.verify(signature, of: body, key: self.identity.signingKey)
        else { throw AgentError.badSignature }
        guard let answer = try? JSONDecoder().decode(AgentConfiguration.self, from: Data(body.utf8)) else {
            throw AgentError.console("the console's configuration answer is not understood")
        }
        let key = AgentSigning.deliveryKey(signingKey: self.identity.signingKey)
        let certificates = try answer.certificates.map { certificate in
            guard let sealed = Data(base64Encoded: certificate.privateKey),
                let box = try? AES.GCM.SealedBox(combined: sealed),
                let opened = try? AES.GCM.open(box, using: key, authenticating: Data(certificate.name.utf8))
            else {
                throw AgentError.console(
                    "the private key of certificate \(certificate.name) does not open with this device's key"
                )
            }
            return ManagedCertificate(
                name: certificate.name,
                certificate: certificate.certificate,
                privateKey: String(decoding: opened, as: UTF8.self)
            )
        }
        return ConfigurationUpdate(version: answer.version, yaml: answer.site, certificates: certificates)
    }

    /// Reports that `version` was applied (`error` nil) or refused with `error`.
    public func acknowledge(version: Int, error: String?) async throws {
        let (status, body, _) = try await Self.send(
            self.http,
            method: .POST,
            url: "\(self.identity.console)/agent/v1/ack",
            credential: self.identity.credential,
            body: try JSONEncoder().encode(Acknowledgement(version: version, error: error)),
            timeout: .seconds(15)
        )
        guard status == 204 else { throw AgentError.refused(status: status, message: Self.message(body)) }
    }

    /// Sends a heartbeat.
    public func heartbeat(_ report: AgentReport, timeout: Duration = .seconds(10)) async throws {
        let (status, body, _) = try await Self.send(
            self.http,
            method: .POST,
            url: "\(self.identity.console)/agent/v1/heartbeat",
            credential: self.identity.credential,
            body: try JSONEncoder().encode(report),
            timeout: timeout
        )
        guard status == 204 else { throw AgentError.refused(status: status, message: Self.message(body)) }
    }

    /// The "ping host" checks the console has for this device, waiting up to `wait` for one (none after that).
    public func checks(wait: Duration = .seconds(25)) async throws -> [ReachabilityCheck] {
        let (status, body, _) = try await Self.send(
            self.http,
            method: .GET,
            url: "\(self.identity.console)/agent/v1/checks?wait=\(wait.components.seconds)",
            credential: self.identity.credential,
            body: nil,
            timeout: wait + .seconds(15)
        )
        guard status == 200 else { throw AgentError.refused(status: status, message: Self.message(body)) }
        guard let checks = try? JSONDecoder().decode([ReachabilityCheck].self, from: Data(body.utf8)) else {
            throw AgentError.console("the console's checks are not understood")
        }
        return checks
    }

    /// Answers a "ping host" check.
    public func answer(_ answer: ReachabilityAnswer) async throws {
        let (status, body, _) = try await Self.send(
            self.http,
            method: .POST,
            url: "\(self.identity.console)/agent/v1/checks",
            credential: self.identity.credential,
            body: try JSONEncoder().encode(answer),
            timeout: .seconds(10)
        )
        guard status == 204 else { throw AgentError.refused(status: status, message: Self.message(body)) }
    }

    // MARK: - Helpers

    private static func send(
        _ http: HTTPClient,
        method: HTTPMethod,
        url: String,
        credential: String?,
        body: Data?,
        timeout: Duration
    ) async throws -> (status: Int, body: String, headers: HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let credential { request.headers.add(name: "Authorization", value: "Bearer \(credential)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(
                request,
                timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
            )
            let buffer = try await response.body.collect(upTo: 4 << 20)
            return (Int(response.status.code), String(buffer: buffer), response.headers)
        } catch {
            throw AgentError.console(
                "cannot reach the console at \(url.split(separator: "?")[0]): \(ConnectionFailure.describe(error))"
            )
        }
    }

    private static func message(_ body: String) -> String {
        (try? JSONDecoder().decode(ErrorBody.self, from: Data(body.utf8)).error) ?? String(body.prefix(200))
    }
}
