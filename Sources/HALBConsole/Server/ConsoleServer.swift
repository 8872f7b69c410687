import Foundation
import HALBCertificates
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Why the console cannot start: a file, an address or the store, named with what is wrong.
public struct ConsoleSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// How a console is assembled: its HTTP or HTTPS server, the store's first user, and the application that serves
/// the REST API and the web page. `halb console` and `halb demo` call these with their options; tests call them in
/// process.
public enum ConsoleServer {
    /// The console's HTTPS server (TLS 1.2 or newer) with the PEM certificate chain and key in these files.
    ///
    /// - Throws: ``ConsoleSetupError`` naming the file and what is wrong with it (unreadable, not PEM, key not
    ///   matching).
    public static func tls(
        certificate: String,
        key: String,
        http1: HTTP1Channel.Configuration
    ) throws(ConsoleSetupError) -> HTTPServerBuilder {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw ConsoleSetupError("--tls-certificate \(certificate): not a readable PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ConsoleSetupError("--tls-certificate \(certificate): holds no certificate") }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw ConsoleSetupError("--tls-key \(key): not a readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        configuration.minimumTLSVersion = .tlsv12
        do {
            // Building the context checks that the key belongs to the certificate.
            _ = try NIOSSLContext(configuration: configuration)
            return try .tls(.http1(configuration: http1), tlsConfiguration: configuration)
        } catch {
            throw ConsoleSetupError("--tls-key \(key) does not go with --tls-certificate \(certificate) (\(error))")
        }
    }

    /// Writes a self-signed certificate for `names` and its key (owner-only) to `certificate` and `key` when
    /// neither exists; returns whether it made them. One without the other is a mistake to report, not to paper
    /// over.
    ///
    /// - Throws: ``ConsoleSetupError`` naming the files; a key written before the failure is removed.
    @discardableResult
    public static func makeSelfSigned(
        certificate: String,
        key: String,
        names: [String]
    ) throws(ConsoleSetupError) -> Bool {
        let manager = FileManager.default
        switch (manager.fileExists(atPath: certificate), manager.fileExists(atPath: key)) {
        case (true, true): return false
        case (false, false): break
        case (true, false), (false, true):
            throw ConsoleSetupError(
                "--tls-self-signed: only one of \(certificate) and \(key) exists; remove it, or give both"
            )
        }
        do {
            let made = try SelfSignedCertificate.make(names: names)
            try Self.writeOwnerOnly(made.key, to: key)
            try Data(made.certificate.utf8).write(to: URL(fileURLWithPath: certificate), options: .withoutOverwriting)
        } catch let error as ConsoleSetupError {
            try? manager.removeItem(atPath: key)
            throw error
        } catch {
            try? manager.removeItem(atPath: key)
            throw ConsoleSetupError("--tls-self-signed: cannot write \(certificate) and \(key): \(error)")
        }
        return true
    }

    /// The names a self-signed certificate for a console listening on `listenHost` is made for: this host's name,
    /// localhost, and the listen address unless it is "any"; each once.
    public static func selfSignedNames(hostName: String, listenHost: String?) -> [String] {
        var names: [String] = []
        for name in [hostName, "localhost", listenHost ?? ""]
        where !name.isEmpty && name != "0.0.0.0" && name != "::" && !names.contains(name) {
            names.append(name)
        }
        return names
    }

    /// Writes `text` to a new file `path` that only its owner can read (it fails when `path` exists).
    public static func writeOwnerOnly(_ text: String, to path: String) throws(ConsoleSetupError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ConsoleSetupError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
        } catch {
            throw ConsoleSetupError("cannot write \(path): \(error)")
        }
    }

    /// What the first start did about the user admin.
    public enum FirstAdmin: Equatable, Sendable {
        /// The store had users already (and `HALB_ADMIN_PASSWORD`, if given, is ignored).
        case existed(passwordGiven: Bool)
        /// Created with the password given (`HALB_ADMIN_PASSWORD`).
        case createdWithGivenPassword
        /// Created with a random password, written to this file.
        case createdWithPasswordIn(file: String)
        /// Created with this random password, to be shown once (never logged).
        case createdWithRandomPassword(String)
    }

    /// Creates the user admin in an empty store: with `password` when given, else with a random one, written to
    /// `passwordFile` (owner-only) when given, else returned to be shown once.
    public static func createFirstAdmin(
        in store: any ConsoleStorage,
        password: String?,
        passwordFile: String?
    ) async throws -> FirstAdmin {
        if password == nil, let file = passwordFile {
            let created = try await store.createFirstAdmin(keepingPassword: {
                try Self.writeOwnerOnly($0 + "\n", to: file)
            })
            return created ? .createdWithPasswordIn(file: file) : .existed(passwordGiven: false)
        }
        guard try await !store.hasUsers() else { return .existed(passwordGiven: password != nil) }
        if let made = try await store.createFirstAdmin(password: password) { return .createdWithRandomPassword(made) }
        return password == nil ? .existed(passwordGiven: false) : .createdWithGivenPassword
    }

    /// The console's application: the REST API and the web page from `store`, on `host`:`port`, through `server`
    /// (HTTP or ``tls(certificate:key:http1:)``). `listening` is called with the bound address (`host:port`) once it
    /// listens (port 0 picks one).
    public static func application(
        store: any ConsoleStorage,
        host: String,
        port: Int,
        server: HTTPServerBuilder,
        secureCookies: Bool,
        eventLoopGroup: EventLoopGroupProvider = .singleton,
        logger: Logger,
        listening: @escaping @Sendable (String) async -> Void
    ) -> some Service {
        Application(
            router: ConsoleAPI.router(store: store, secureCookies: secureCookies),
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "halb-console"),
            onServerRunning: { channel in
                await listening(channel.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?")
            },
            eventLoopGroupProvider: eventLoopGroup,
            logger: logger
        )
    }
}
