import Foundation
import HALBCore
import Testing

@testable import HALBBalancer

/// Loading an offloading payload's certificate and key: every way it can be unusable gets an error naming the file.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl"))
struct TLSOffloadLoadTests {
    private func certificate(_ name: String, in directory: URL) throws -> (String, String) {
        try makeTestCertificate(name, in: directory)
    }

    private func message(_ body: () throws(TLSOffloadError) -> TLSOffload) -> String {
        do {
            _ = try body()
            return "loaded"
        } catch {
            return error.description
        }
    }

    @Test func unusableCertificatesAndKeysAreRefusedNamingTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try self.certificate("offload", in: directory)
        let (_, otherKey) = try self.certificate("other", in: directory)

        let loaded = try TLSOffload.load(TLSOffloadConfiguration(certificate: cert, privateKey: key))
        #expect(loaded.subject == "CN=offload")
        #expect(loaded.notValidAfter > Date().addingTimeInterval(86_400))

        // Three days from now the 2-day certificate has expired; a day ago it was not valid yet.
        #expect(
            self.message { () throws(TLSOffloadError) in
                try TLSOffload.load(
                    .init(certificate: cert, privateKey: key),
                    now: Date().addingTimeInterval(3 * 86_400)
                )
            }.hasPrefix("certificate \(cert): expired on 20")
        )
        #expect(
            self.message { () throws(TLSOffloadError) in
                try TLSOffload.load(.init(certificate: cert, privateKey: key), now: Date().addingTimeInterval(-86_400))
            }.hasPrefix("certificate \(cert): not valid before 20")
        )
        #expect(
            self.message { () throws(TLSOffloadError) in
                try TLSOffload.load(.init(certificate: cert, privateKey: otherKey))
            }.hasPrefix("privateKey \(otherKey) does not belong to certificate \(cert)")
        )
        #expect(
            self.message { () throws(TLSOffloadError) in
                try TLSOffload.load(.init(certificate: "/nonexistent/cert.pem", privateKey: key))
            }.hasPrefix("certificate /nonexistent/cert.pem: cannot be read as PEM")
        )
        #expect(
            self.message { () throws(TLSOffloadError) in try TLSOffload.load(.init(certificate: cert, privateKey: cert))
            }.hasPrefix("privateKey \(cert): cannot be read as a PEM private key")
        )
        #expect(
            self.message { () throws(TLSOffloadError) in try TLSOffload.load(.init(certificate: key, privateKey: key)) }
                .hasPrefix("certificate \(key): ")
        )
        #expect(
            self.message { () throws(TLSOffloadError) in
                try TLSOffload.load(.init(certificate: cert, privateKey: key, ciphers: .list(["NOT-A-SUITE"])))
            } == "ciphers NOT-A-SUITE: not all known TLS 1.2 cipher suites"
        )
        #expect(
            self.message { () throws(TLSOffloadError) in
                try TLSOffload.load(.init(certificate: cert, privateKey: key, ciphers: .intermediate))
            } == "loaded"
        )
    }

    @Test func aManagedCertificateWithoutFilesCannotBeLoaded() throws {
        // A managed certificate the agent did not turn into files: a site-file device cannot use it.
        #expect(
            self.message { () throws(TLSOffloadError) in try TLSOffload.load(.init(certificate: "", privateKey: "")) }
                .hasPrefix("managedCertificate: ")
        )
    }
}
