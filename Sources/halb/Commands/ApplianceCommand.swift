import ArgumentParser
import Foundation
import HALBAppliance
import HALBCore

/// `halb appliance …`: what the HALB VM appliance's first boot and console run.
struct ApplianceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "appliance",
        abstract: "Configure the HALB VM appliance on first boot, fetch its console's CA, print its console banner.",
        discussion: """
            The appliance's first-boot scripts run these; they write files under a root directory and change \
            nothing else (no service is started or restarted).
            """,
        subcommands: [ApplianceConfigureCommand.self, ApplianceFetchCACommand.self, ApplianceBannerCommand.self]
    )
}

/// `halb appliance configure`: reads the appliance's settings from one source, checks them all, and writes the
/// files that configure the host and its device.
struct ApplianceConfigureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "configure",
        abstract:
            "Read the appliance's settings from a NoCloud seed, an OVF environment or a wizard, and write its files.",
        discussion: """
            Settings: hostname (required); name (the device's name in the console; default: the host name's first \
            label); address (dhcp, the default, or one or two CIDRs, comma separated: at most one IPv4 and one \
            IPv6); gateway (comma separated, one per family, only with static addresses, each in its address's \
            network); dns (comma separated, at most 3); console (required: https://host[:port] or \
            http://host[:port]); console_ca_sha256 (required for an https:// console: the SHA-256 fingerprint of \
            its CA certificate, as openssl x509 -noout -fingerprint -sha256 prints it; for a self-signed console, \
            of its certificate); join_token (required: halb join-token create NAME, on the console).

            --nocloud DIR: a cloud-init NoCloud seed. DIR/user-data starts with #cloud-config and has a halb: \
            mapping with the settings above as keys (address, gateway and dns may be YAML lists); any other key \
            under halb: is an error; other top-level keys are ignored. The host name is halb.hostname, else the \
            top-level hostname, else local-hostname in DIR/meta-data. Each file is at most 64 KiB.

            --ovf-env FILE: a VMware OVF environment (vmware-rpctool "info-get guestinfo.ovfEnv"), at most 64 \
            KiB, with vApp properties halb.hostname, halb.name, halb.address, halb.gateway, halb.dns, \
            halb.console, halb.console_ca_sha256 and halb.join_token. A property left empty is not set; an \
            unknown halb.* property is an error; other properties are ignored.

            --wizard: asks for each setting on this terminal, the default in brackets (empty answer: the default; \
            none: no gateway or DNS servers), checks each answer at once and asks again after a bad one (giving \
            up after 10), then shows the settings and asks to write them (n asks again, at most 5 rounds). The \
            join token is read without echo on a terminal. End of input aborts.

            Every setting is checked before anything is written; an invalid one is reported with its value, and \
            then nothing is written. The files, under ROOT, each written to a temporary file and renamed: \
            etc/hostname, etc/hosts, etc/systemd/network/10-halb.network (systemd-networkd, for the \
            appliance's NIC, eth0), etc/resolv.conf (only when DNS servers are given, and left alone when it is a \
            symbolic link, as systemd-resolved makes it), etc/halb/device.conf (HALB_NAME, HALB_CONSOLE, and for https:// \
            HALB_CONSOLE_CA=/etc/halb/console-ca.pem and HALB_CONSOLE_CA_SHA256), etc/halb/join-token (mode \
            0600), and last var/lib/halb-appliance/configured (the source and the time). Exits non-zero when \
            nothing, or not everything, was written.
            """
    )

    @Option(name: .long, help: ArgumentHelp("A mounted cloud-init NoCloud seed directory.", valueName: "dir"))
    var nocloud: String?

    @Option(name: .long, help: ArgumentHelp("A VMware OVF environment document.", valueName: "file"))
    var ovfEnv: String?

    @Flag(name: .long, help: "Ask for the settings on this terminal.")
    var wizard = false

    @Option(name: .long, help: ArgumentHelp("The directory to write the files under.", valueName: "dir"))
    var root = "/"

    func validate() throws {
        let sources = [self.nocloud != nil, self.ovfEnv != nil, self.wizard].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one of --nocloud DIR, --ovf-env FILE, --wizard") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: self.root, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw ValidationError("--root \(self.root) is not a directory")
        }
    }

    func run() async throws {
        let source: ApplianceSource
        let settings: ApplianceSettings
        do {
            if let directory = self.nocloud {
                source = .nocloud
                settings = try ApplianceSettings(validating: try NoCloudSeed.read(directory: directory))
            } else if let file = self.ovfEnv {
                source = .ovf
                settings = try ApplianceSettings(validating: try OVFEnvironment.read(file: file))
            } else {
                source = .wizard
                settings = try ApplianceWizard.run(defaults: self.wizardDefaults())
            }
        } catch {
            throw Self.failure(error, then: "nothing written")
        }
        let outcome: ApplianceFileWriter.Outcome
        do {
            outcome = try ApplianceConfigurator.write(settings, source: source, root: self.root)
        } catch {
            throw Self.failure(
                error,
                then: "the appliance is not configured (\(ApplianceFiles.configuredPath) not written)"
            )
        }
        for path in outcome.written { print("Wrote \(path)") }
        for path in outcome.leftAlone { print("Left \(path) alone: it is a symbolic link (systemd-resolved)") }
    }

    /// The wizard's first defaults: the host name and device settings already under the root, if any.
    private func wizardDefaults() -> ApplianceInput {
        let base = self.root.hasSuffix("/") ? String(self.root.dropLast()) : self.root
        var defaults = ApplianceInput()
        if let text = try? BoundedFile.readText("\(base)/etc/hostname", limit: 4096) {
            defaults[.hostname] = text
        }
        if let conf = DeviceConf.read(path: "\(base)/etc/halb/device.conf") {
            defaults[.name] = conf.name
            defaults[.console] = conf.console
            defaults[.consoleCASHA256] = conf.consoleCASHA256
        }
        return defaults
    }

    /// Each issue on its own `halb:` line, then `then`.
    static func failure(_ error: ApplianceError, then: String) -> ExitCode {
        CommandFailure.exit((error.issues.map(\.description) + [then]).joined(separator: "\nhalb: "))
    }
}
