import Crypto
import Foundation
import HALBCore
import HALBWire
import Testing

@testable import HALBConsole

/// Certificates kept by the console: checked on upload, sealed at rest, named by virtual servers only once
/// uploaded, delivered to the devices that use them, and replaced with a new site version.
@Suite(.enabled(if: opensslIsInstalled, "needs openssl"))
struct CertificateStoreTests {
    private func offloading(_ certificate: String) -> String {
        sampleSite + """
              - name: rdp
                vip: { ipv4: 192.0.2.101/24 }
                devices: [lb2]
                payloads:
                  ssl: { mode: offload, managedCertificate: \(certificate) }

            """
    }

    @Test func certificatesAreCheckedSealedReferencedAndDelivered() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "halb-certificates-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = directory.appendingPathComponent("console")
        let store = try ConsoleStore(directory: data)
        #expect(
            try FileManager.default.attributesOfItem(atPath: data.appendingPathComponent("secrets.key").path)[
                .posixPermissions
            ] as? Int == 0o600
        )
        let one = try selfSignedCertificate("rdp-1")
        let two = try selfSignedCertificate("rdp-2")
        let other = try selfSignedCertificate("other")
        _ = try await store.createSite(try ConfigNode.parse(yaml: sampleSite), actor: "test")

        // Bad uploads name the field and store nothing.
        await #expect(
            throws: ConsoleError.invalidRequest([
                ConfigurationIssue(
                    path: "name",
                    message:
                        #""a b" is not a certificate name (1-63 letters, digits, - _ . starting with a letter or digit)"#
                )
            ])
        ) {
            try await store.putCertificate(
                site: "lab",
                name: "a b",
                certificatePEM: one.certificate,
                privateKeyPEM: one.key,
                actor: "test"
            )
        }
        for (certificate, key, field, now) in [
            (one.certificate, other.key, "privateKey", Date()),
            (one.certificate, one.key, "certificate", Date().addingTimeInterval(3 * 86_400)),
            ("garbage", one.key, "certificate", Date()),
        ] {
            do {
                _ = try await store.putCertificate(
                    site: "lab",
                    name: "rdp",
                    certificatePEM: certificate,
                    privateKeyPEM: key,
                    actor: "test",
                    now: now
                )
                Issue.record("an unusable upload was stored (\(field))")
            } catch let error as ConsoleError {
                #expect(error.statusCode == 422 && error.issues.first?.path == field, "\(error)")
            }
        }
        #expect(try await store.certificates(site: "lab").isEmpty)

        // A virtual server cannot name a certificate before it is uploaded.
        let early = await #expect(throws: ConsoleError.self) {
            try await store.changeSite("lab", basedOn: 1, actor: "test", change: "add rdp") { _ in
                try ConfigNode.parse(yaml: self.offloading("rdp"))
            }
        }
        #expect(early?.issues.first?.path == "virtualServers[1].payloads.ssl.managedCertificate")

        // Uploaded while unused: no new version. Then used: version 2.
        let uploaded = try await store.putCertificate(
            site: "lab",
            name: "rdp",
            certificatePEM: one.certificate,
            privateKeyPEM: one.key,
            actor: "test"
        )
        #expect(
            uploaded.created && uploaded.version == 1 && uploaded.info.subject == "CN=rdp-1"
                && uploaded.info.usedBy.isEmpty
        )
        _ = try await store.changeSite("lab", basedOn: 1, actor: "test", change: "add rdp") { _ in
            try ConfigNode.parse(yaml: self.offloading("rdp"))
        }
        #expect(try await store.certificate(site: "lab", name: "rdp").usedBy == ["rdp"])
        // The names it is for, from the stored chain.
        #expect(uploaded.info.subjectAlternativeNames == ["DNS:rdp-1"])
        #expect(try await store.certificates(site: "lab").first?.subjectAlternativeNames == ["DNS:rdp-1"])
        #expect(try await store.certificate(site: "lab", name: "rdp").certificate == one.certificate)

        // The key is nowhere in the database files in clear.
        let keyLine = try #require(one.key.split(separator: "\n").dropFirst().first)
        for file in try FileManager.default.contentsOfDirectory(atPath: data.path) {
            let bytes = try #require(FileManager.default.contents(atPath: data.appendingPathComponent(file).path))
            #expect(bytes.range(of: Data(keyLine.utf8)) == nil, "\(file)")
        }

        // Only lb2 (of virtual server rdp) gets it, its key sealed for lb2.
        let enrolment = try await store.enrol(
            joinToken: try await store.createJoinToken(site: "lab", device: "lb2", actor: "test").token,
            device: "lb2"
        )
        let lb2 = try #require(try await store.agent(forCredential: enrolment.credential))
        var delivered = try await store.configuration(for: lb2)
        #expect(delivered.version == 2 && delivered.certificates.map(\.name) == ["rdp"])
        func opened(_ certificate: DeliveredCertificate) throws -> String {
            let box = try AES.GCM.SealedBox(combined: try #require(Data(base64Encoded: certificate.privateKey)))
            return String(
                decoding: try AES.GCM.open(
                    box,
                    using: AgentSigning.deliveryKey(signingKey: lb2.signingKey),
                    authenticating: Data(certificate.name.utf8)
                ),
                as: UTF8.self
            )
        }
        #expect(try opened(delivered.certificates[0]) == one.key)
        #expect(!delivered.certificates[0].privateKey.contains(keyLine))
        let enrolled1 = try await store.enrol(
            joinToken: try await store.createJoinToken(site: "lab", device: "lb1", actor: "test").token,
            device: "lb1"
        )
        #expect(
            try await store.configuration(for: try #require(try await store.agent(forCredential: enrolled1.credential)))
                .certificates.isEmpty
        )

        // A replacement is a new version of the site, and the store reopened still opens the key.
        let replaced = try await store.putCertificate(
            site: "lab",
            name: "rdp",
            certificatePEM: two.certificate,
            privateKeyPEM: two.key,
            actor: "test"
        )
        #expect(!replaced.created && replaced.version == 3 && replaced.info.usedBy == ["rdp"])
        #expect(try await store.versions(of: "lab").first?.change == "replace certificate rdp")
        let reopened = try ConsoleStore(directory: data)
        delivered = try await reopened.configuration(for: lb2)
        #expect(delivered.version == 3)
        #expect(try opened(delivered.certificates[0]) == two.key)

        // In use it cannot go; after the virtual server stops using it, it can, and a rollback to a version that
        // used it is refused.
        await #expect(
            throws: ConsoleError.conflict(
                "certificate rdp is used by virtual server rdp: change their managedCertificate first"
            )
        ) {
            try await reopened.deleteCertificate(site: "lab", name: "rdp", actor: "test")
        }
        _ = try await reopened.changeSite("lab", basedOn: 3, actor: "test", change: "drop rdp") { _ in
            try ConfigNode.parse(yaml: sampleSite)
        }
        try await reopened.deleteCertificate(site: "lab", name: "rdp", actor: "test")
        let rollback = await #expect(throws: ConsoleError.self) {
            try await reopened.rollback("lab", to: 3, basedOn: 4, actor: "test")
        }
        #expect(rollback?.statusCode == 422)
        #expect(try await reopened.site("lab").version == 4)
        #expect(
            try await reopened.audit(site: "lab").contains { $0.target == "certificate rdp" && $0.action == "delete" }
        )
    }
}
