import ArgumentParser
import HALBAppliance
import HALBCore

/// `halb appliance fetch-ca`: writes the console's CA certificate, pinned by its SHA-256 fingerprint.
struct ApplianceFetchCACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch-ca",
        abstract: "Fetch the console's CA certificate from the console itself, pinned by its SHA-256 fingerprint.",
        discussion: """
            Connects to the console with TLS and takes the certificates it presents (at most 10); the one whose \
            SHA-256 (of its DER bytes) is --sha256 is written to FILE as PEM, mode 0644, through a temporary file \
            and a rename. Nothing is trusted before the fingerprint matches, and no request is sent. When no \
            certificate matches, nothing is written and the error lists the SHA-256 and subject of each one \
            presented. A fingerprint is easier to type on a VM console than a PEM file. For a console with a \
            self-signed certificate (its own CA) it is that certificate's: on the console's machine, openssl x509 \
            -noout -fingerprint -sha256 -in /var/lib/halb-console/console.pem. For a console with a CA-signed \
            certificate it is the CA's, which works only when the console sends its CA in its chain.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The console's URL: https://host[:port].", valueName: "url"))
    var console: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The certificate's SHA-256 fingerprint: 64 hex digits, colons and either case allowed.",
            valueName: "hex"
        )
    )
    var sha256: String

    @Option(name: .long, help: ArgumentHelp("Where to write the certificate (PEM).", valueName: "file"))
    var out: String

    @Option(name: .long, help: "The most time the connection and the TLS handshake may take, e.g. 10s (at most 5m).")
    var timeout = "10s"

    func validate() throws {
        let console: ConsoleURL
        do {
            console = try ApplianceValidation.console(self.console)
        } catch {
            throw ValidationError("--console \(error.issues.map(\.message).joined(separator: "; "))")
        }
        guard console.isHTTPS else { throw ValidationError("fetch-ca needs an https:// console") }
        do {
            _ = try ApplianceValidation.fingerprint(self.sha256, field: "--sha256")
        } catch {
            throw ValidationError(error.description)
        }
        guard let timeout = HALBDuration(parsing: self.timeout), timeout > .milliseconds(0), timeout <= .minutes(5)
        else {
            throw ValidationError("--timeout \(self.timeout) is not a duration from 1ms to 5m (like 10s)")
        }
    }

    func run() async throws {
        do {
            let console = try ApplianceValidation.console(self.console)
            let sha256 = try ApplianceValidation.fingerprint(self.sha256, field: "--sha256")
            let certificate = try await ConsoleCertificateFetcher.fetch(
                console: console,
                sha256: sha256,
                timeout: HALBDuration(parsing: self.timeout)!.duration
            )
            try ApplianceFileWriter.write(Array(certificate.pem.utf8), to: self.out, mode: 0o644)
            print("Wrote \(self.out): \(certificate.subject), SHA-256 \(certificate.sha256)")
        } catch {
            throw ApplianceConfigureCommand.failure(error, then: "nothing written")
        }
    }
}
