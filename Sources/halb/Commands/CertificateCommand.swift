import ArgumentParser
import Foundation
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
                self.options.print(answer) { json in
                    Table.render(
                        ["CERTIFICATE", "SUBJECT", "VALID UNTIL", "USED BY", "SHA-256"],
                        (json as? [[String: Any]] ?? []).map {
                            [
                                text($0["name"]), text($0["subject"]), text($0["notValidAfter"]), text($0["usedBy"]),
                                String(text($0["fingerprint"]).prefix(16)),
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
                self.options.print(answer) { json in text((json as? [String: Any])?["certificate"]) }
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
                let body = try jsonBody([
                    "certificate": try readBody(self.certificate), "privateKey": try readBody(self.key),
                ])
                let answer = try await client.send(.PUT, "/api/v1/sites/\(site)/certificates/\(self.name)", body: body)
                self.options.print(answer) { json in
                    let info = json as? [String: Any] ?? [:]
                    let users = info["usedBy"] as? [String] ?? []
                    return
                        "Stored certificate \(self.name) (\(text(info["subject"])), valid until \(text(info["notValidAfter"])))"
                        + (users.isEmpty ? ".\n" : "; virtual servers \(users.joined(separator: ", ")) load it now.\n")
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
