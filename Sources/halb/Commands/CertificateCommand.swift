import ArgumentParser
import Foundation
import HALBClient
import HALBWire
import NIOHTTP1

/// `halb certificate ...`: the TLS certificates a site's offloading virtual servers use by name
/// (`managedCertificate`), uploaded to the console and delivered to the devices.
struct CertificateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificate",
        abstract: "Upload, list, show or delete the TLS certificates kept by the console.",
        discussion: """
            An offloading ssl payload names one with `managedCertificate: NAME`; its devices receive the chain and \
            the key with their configuration. Replacing a certificate in use gives the site a new version, so its \
            devices load it at once; established connections keep theirs.
            """,
        subcommands: [List.self, Show.self, Upload.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the site's certificates with their expiry dates."
        )
        @OptionGroup var options: AdminOptions

        func run() async throws {
            try await runAdmin {
                let (client, site) = try await self.options.session()
                let answer = try await client.send(.GET, "/api/v1/sites/\(site)/certificates")
                try self.options.print(answer, as: [CertificateInfo].self) { certificates in
                    Table.render(
                        ["CERTIFICATE", "SUBJECT", "VALID UNTIL", "USED BY", "SHA-256"],
                        certificates.map {
                            [
                                $0.name, $0.subject, $0.notValidAfter, $0.usedBy.joined(separator: ","),
                                String($0.fingerprint.prefix(16)),
                            ]
                        }
                    )
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a certificate's chain (PEM); never its key.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The certificate's name.") var name: String

        func run() async throws {
            try await runAdmin {
                let (client, site) = try await self.options.session()
                let answer = try await client.send(.GET, "/api/v1/sites/\(site)/certificates/\(self.name)")
                try self.options.print(answer, as: CertificateInfo.self) { text($0.certificate) }
            }
        }
    }

    struct Upload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a certificate chain and its private key (PEM files), or replace one.",
            discussion:
                "The console refuses a chain that is expired or not yet valid, and a key of another certificate."
        )
        @OptionGroup var options: AdminOptions
        @Argument(help: "The certificate's name, as managedCertificate names it.") var name: String
        @Option(name: .long, help: ArgumentHelp("The certificate chain, leaf first (PEM).", valueName: "file"))
        var certificate: String
        @Option(name: .long, help: ArgumentHelp("Its private key (PEM).", valueName: "file")) var key: String

        func run() async throws {
            try await runAdmin {
                let (client, site) = try await self.options.session()
                let body = try jsonBody(
                    CertificateUpload(certificate: try readBody(self.certificate), privateKey: try readBody(self.key))
                )
                let answer = try await client.send(.PUT, "/api/v1/sites/\(site)/certificates/\(self.name)", body: body)
                try self.options.print(answer, as: CertificateInfo.self) { info in
                    "Stored certificate \(self.name) (\(info.subject), valid until \(info.notValidAfter))"
                        + (info.usedBy.isEmpty
                            ? ".\n" : "; virtual servers \(info.usedBy.joined(separator: ", ")) load it now.\n")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a certificate that no virtual server uses.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The certificate's name.") var name: String

        func run() async throws {
            try await runAdmin {
                let (client, site) = try await self.options.session()
                _ = try await client.send(.DELETE, "/api/v1/sites/\(site)/certificates/\(self.name)")
                print("Deleted certificate \(self.name).")
            }
        }
    }
}
