import Foundation
import HALBCertificates
import Testing

/// Runs openssl with `arguments` in `directory`; true when it succeeded.
@discardableResult
private func openssl(_ arguments: [String], in directory: URL) throws -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    process.currentDirectoryURL = directory
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus == 0
}

/// A folder of certificates made by openssl for one test, removed after it.
private final class Certificates {
    let directory: URL

    init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-certs-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: self.directory)
    }

    func read(_ name: String) throws -> String {
        try String(contentsOf: self.directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// A self-signed certificate `name.pem` with key `name.key`, valid for 2 days: EC P-256 or RSA 2048.
    func selfSigned(
        _ name: String,
        rsa: Bool = false,
        subject: String? = nil,
        names: String? = nil
    ) throws -> (
        certificate: String, key: String
    ) {
        var arguments = [
            "req", "-x509", "-newkey", rsa ? "rsa:2048" : "ec", "-nodes", "-keyout", "\(name).key", "-out",
            "\(name).pem",
            "-days", "2", "-subj", subject ?? "/CN=\(name)",
        ]
        if !rsa { arguments += ["-pkeyopt", "ec_paramgen_curve:prime256v1"] }
        if let names { arguments += ["-addext", "subjectAltName=\(names)"] }
        #expect(try openssl(arguments, in: self.directory))
        return (try self.read("\(name).pem"), try self.read("\(name).key"))
    }
}

@Suite struct CertificateCheckTests {
    @Test func aCertificateAndItsKeyAreSummed() throws {
        let certificates = try Certificates()
        let (certificate, key) = try certificates.selfSigned(
            "rdp",
            subject: "/CN=rdp.example.test/O=Example",
            names: "DNS:rdp.example.test,DNS:*.apps.example.test,IP:192.0.2.7,IP:2001:db8::7"
        )
        let summary = try CertificateCheck.check(certificatePEM: certificate, privateKeyPEM: key)
        #expect(
            summary.subject == "O=Example,CN=rdp.example.test" || summary.subject == "CN=rdp.example.test,O=Example"
        )
        #expect(
            summary.subjectAlternativeNames == [
                "DNS:rdp.example.test", "DNS:*.apps.example.test", "IP:192.0.2.7", "IP:2001:db8::7",
            ]
        )
        #expect(summary.chainLength == 1)
        #expect(summary.notValidAfter > Date().addingTimeInterval(86_400))
        #expect(summary.leafDER.count > 100)
    }

    @Test func anRSAKeyIsReadAndMatched() throws {
        let certificates = try Certificates()
        let (certificate, key) = try certificates.selfSigned("rsa", rsa: true)
        #expect(try CertificateCheck.check(certificatePEM: certificate, privateKeyPEM: key).subject == "CN=rsa")
    }

    @Test func aChainCountsItsIntermediates() throws {
        let certificates = try Certificates()
        let (leaf, key) = try certificates.selfSigned("leaf")
        let (ca, _) = try certificates.selfSigned("ca")
        #expect(try CertificateCheck.check(certificatePEM: leaf + ca, privateKeyPEM: key).chainLength == 2)
    }

    @Test func aKeyOfAnotherCertificateIsRefused() throws {
        let certificates = try Certificates()
        let (certificate, _) = try certificates.selfSigned("one")
        let (_, otherKey) = try certificates.selfSigned("two")
        let (_, rsaKey) = try certificates.selfSigned("three", rsa: true)
        for key in [otherKey, rsaKey] {
            #expect(throws: CertificateProblem.self) {
                try CertificateCheck.check(certificatePEM: certificate, privateKeyPEM: key)
            }
            do {
                _ = try CertificateCheck.check(certificatePEM: certificate, privateKeyPEM: key)
            } catch {
                #expect(error.field == "privateKey")
                #expect(error.reason == "does not belong to certificate (CN=one)")
            }
        }
    }

    @Test func expiredNotYetValidAndUnreadableAreRefusedWithTheirField() throws {
        let certificates = try Certificates()
        let (certificate, key) = try certificates.selfSigned("dated")
        func problem(_ certificate: String, _ key: String, now: Date = Date()) -> String {
            do {
                _ = try CertificateCheck.check(
                    certificatePEM: certificate,
                    privateKeyPEM: key,
                    certificateField: "certificate rdp.pem",
                    keyField: "privateKey rdp.key",
                    now: now
                )
                return "checked"
            } catch {
                return error.description
            }
        }
        #expect(problem(certificate, key) == "checked")
        #expect(
            problem(certificate, key, now: Date().addingTimeInterval(3 * 86_400)).hasPrefix(
                "certificate rdp.pem: expired on 20"
            )
        )
        #expect(
            problem(certificate, key, now: Date().addingTimeInterval(-86_400)).hasPrefix(
                "certificate rdp.pem: not valid before 20"
            )
        )
        #expect(problem("not a certificate", key).hasPrefix("certificate rdp.pem: cannot be read as PEM"))
        #expect(problem("", key).hasPrefix("certificate rdp.pem: "))
        #expect(problem(key, key) == "certificate rdp.pem: holds no certificate")
        #expect(
            problem(certificate, "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
                .hasPrefix("privateKey rdp.key: cannot be read as a PEM private key")
        )
    }
}

@Suite struct CertificateFingerprintTests {
    /// What `openssl x509 -noout -fingerprint -sha256` says of the first certificate in `file`.
    private func opensslFingerprint(_ file: URL) throws -> String {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["x509", "-noout", "-fingerprint", "-sha256", "-in", file.path]
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "sha256 Fingerprint=AB:CD:..."
        return String(text.split(separator: "=", maxSplits: 1).last ?? "").trimmingCharacters(
            in: .whitespacesAndNewlines
        )
    }

    @Test func eachCertificateOfAFileAsOpensslWritesIt() throws {
        let certificates = try Certificates()
        let first = try certificates.selfSigned("first")
        let second = try certificates.selfSigned("second", rsa: true)
        let chain = certificates.directory.appendingPathComponent("chain.pem")
        // A key between them is not a certificate and has no fingerprint here.
        try (first.certificate + first.key + second.certificate).write(to: chain, atomically: true, encoding: .utf8)

        let fingerprints = try CertificateFingerprint.sha256(pemFile: chain.path)

        let expected = [
            try self.opensslFingerprint(certificates.directory.appendingPathComponent("first.pem")),
            try self.opensslFingerprint(certificates.directory.appendingPathComponent("second.pem")),
        ]
        #expect(expected.allSatisfy { $0.count == 95 })
        #expect(fingerprints == expected)
    }

    @Test func aFileWithoutCertificatesHasNone() throws {
        let certificates = try Certificates()
        let made = try certificates.selfSigned("only")
        let keyFile = certificates.directory.appendingPathComponent("only.key")
        try made.key.write(to: keyFile, atomically: true, encoding: .utf8)
        #expect(try CertificateFingerprint.sha256(pemFile: keyFile.path).isEmpty)
    }
}
