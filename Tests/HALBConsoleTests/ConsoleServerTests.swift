import Foundation
import HALBCertificates
import HALBConsole
import HummingbirdCore
import Testing

/// How `halb console` assembles a console: its certificate, its HTTPS server, its first user.
@Suite struct ConsoleServerTests {
    private func withDirectory(_ body: (URL) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-server-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory)
    }

    @Test func aSelfSignedCertificateIsMadeOnceWithAnOwnerOnlyKeyAndServes() async throws {
        try await self.withDirectory { directory in
            let certificate = directory.appendingPathComponent("console.crt").path
            let key = directory.appendingPathComponent("console.key").path
            let names = ConsoleServer.selfSignedNames(hostName: "lab", listenHost: "192.0.2.5")
            #expect(names == ["lab", "localhost", "192.0.2.5"])
            #expect(try ConsoleServer.makeSelfSigned(certificate: certificate, key: key, names: names))
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
            let first = try CertificateFingerprint.sha256(pemFile: certificate)
            // A second start keeps both.
            #expect(try !ConsoleServer.makeSelfSigned(certificate: certificate, key: key, names: names))
            #expect(try CertificateFingerprint.sha256(pemFile: certificate) == first)
            _ = try ConsoleServer.tls(certificate: certificate, key: key, http1: .init())
        }
    }

    @Test func anyAddressIsNotANameOfTheCertificate() {
        #expect(ConsoleServer.selfSignedNames(hostName: "localhost", listenHost: "0.0.0.0") == ["localhost"])
        #expect(ConsoleServer.selfSignedNames(hostName: "lab", listenHost: "::") == ["lab", "localhost"])
    }

    @Test func oneFileWithoutTheOtherIsRefusedAndNothingIsWritten() async throws {
        try await self.withDirectory { directory in
            let certificate = directory.appendingPathComponent("console.crt").path
            let key = directory.appendingPathComponent("console.key").path
            try Data("left over".utf8).write(to: URL(fileURLWithPath: certificate))
            #expect {
                try ConsoleServer.makeSelfSigned(certificate: certificate, key: key, names: ["lab"])
            } throws: { error in
                "\(error)".contains("only one of \(certificate) and \(key) exists")
            }
            #expect(!FileManager.default.fileExists(atPath: key))
            #expect(try String(contentsOfFile: certificate, encoding: .utf8) == "left over")
            // Into a folder that does not exist: the reason, and no key left behind.
            let missing = directory.appendingPathComponent("none")
            #expect {
                try ConsoleServer.makeSelfSigned(
                    certificate: missing.appendingPathComponent("c.crt").path,
                    key: missing.appendingPathComponent("c.key").path,
                    names: ["lab"]
                )
            } throws: { error in
                "\(error)".contains("cannot create \(missing.path)/c.key: No such file or directory")
            }
        }
    }

    @Test func aKeyOfAnotherCertificateIsRefusedNamingBothFiles() async throws {
        try await self.withDirectory { directory in
            let mine = try selfSignedCertificate("console")
            let other = try selfSignedCertificate("other")
            let certificate = directory.appendingPathComponent("console.crt").path
            let key = directory.appendingPathComponent("other.key").path
            try Data(mine.certificate.utf8).write(to: URL(fileURLWithPath: certificate))
            try Data(other.key.utf8).write(to: URL(fileURLWithPath: key))
            #expect {
                try ConsoleServer.tls(certificate: certificate, key: key, http1: .init())
            } throws: { error in
                "\(error)".contains("--tls-key \(key) does not go with --tls-certificate \(certificate)")
            }
            #expect {
                try ConsoleServer.tls(certificate: key, key: key, http1: .init())
            } throws: { error in
                "\(error)".contains("--tls-certificate \(key): not a readable PEM certificate chain")
                    || "\(error)".contains("--tls-certificate \(key): holds no certificate")
            }
        }
    }

    @Test func theFirstAdminIsMadeOnceAndItsPasswordGoesWhereItWasAsked() async throws {
        try await self.withDirectory { directory in
            // A random password, shown once; the next start finds the user.
            let shown = try ConsoleStore(directory: directory.appendingPathComponent("shown"))
            guard
                case .createdWithRandomPassword(let password) = try await ConsoleServer.createFirstAdmin(
                    in: shown,
                    password: nil,
                    passwordFile: nil
                )
            else {
                Issue.record("no random password")
                return
            }
            #expect(password.count >= 16)
            #expect(
                try await ConsoleServer.createFirstAdmin(in: shown, password: "ignored now", passwordFile: nil)
                    == .existed(passwordGiven: true)
            )
            // The given password wins over a file.
            let given = try ConsoleStore(directory: directory.appendingPathComponent("given"))
            let file = directory.appendingPathComponent("first-password").path
            #expect(
                try await ConsoleServer.createFirstAdmin(in: given, password: "correct horse", passwordFile: file)
                    == .createdWithGivenPassword
            )
            #expect(!FileManager.default.fileExists(atPath: file))
            // A random one written to an owner-only file.
            let filed = try ConsoleStore(directory: directory.appendingPathComponent("filed"))
            #expect(
                try await ConsoleServer.createFirstAdmin(in: filed, password: nil, passwordFile: file)
                    == .createdWithPasswordIn(file: file)
            )
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
            #expect(try String(contentsOfFile: file, encoding: .utf8).count > 16)
            #expect(
                try await ConsoleServer.createFirstAdmin(in: filed, password: nil, passwordFile: file)
                    == .existed(passwordGiven: false)
            )
        }
    }
}
