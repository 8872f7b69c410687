import Crypto
import Foundation
import HALBCore

/// What a device keeps in its state directory: who it is to its console, and the last configuration it applied.
///
/// Files are written atomically (a temporary file, fsync, rename, fsync of the directory) and readable by the
/// device's user only, as the credential is a secret.
public struct AgentIdentity: Codable, Sendable, Hashable {
    /// The console's base URL, such as `http://192.0.2.5:8440`.
    public var console: String
    public var site: String
    public var device: String
    /// `Authorization: Bearer` of every request to the console.
    public var credential: String
    /// Configurations are accepted only with a valid HMAC-SHA256 of this key.
    public var signingKey: String

    public init(console: String, site: String, device: String, credential: String, signingKey: String) {
        self.console = console
        self.site = site
        self.device = device
        self.credential = credential
        self.signingKey = signingKey
    }
}

/// The state directory of a managed device.
public struct AgentStateDirectory: Sendable {
    public let url: URL

    public init(_ path: String) {
        self.url = URL(fileURLWithPath: path)
    }

    var identityFile: URL { self.url.appendingPathComponent("identity.json") }
    var configurationFile: URL { self.url.appendingPathComponent("site.yaml") }
    var versionFile: URL { self.url.appendingPathComponent("site.version") }

    /// The stored identity, if the device enrolled.
    public func identity() throws -> AgentIdentity? {
        guard FileManager.default.fileExists(atPath: self.identityFile.path) else { return nil }
        return try JSONDecoder().decode(AgentIdentity.self, from: Data(contentsOf: self.identityFile))
    }

    public func store(_ identity: AgentIdentity) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.writeAtomically(try encoder.encode(identity), to: self.identityFile)
    }

    /// The last applied configuration and its version, if any (and readable: a cache that no longer validates is
    /// no cache).
    public func cachedConfiguration() -> (version: Int, site: Site)? {
        guard let yaml = try? String(contentsOf: self.configurationFile, encoding: .utf8),
            let site = try? SiteReader.load(yaml: yaml),
            let versionText = try? String(contentsOf: self.versionFile, encoding: .utf8),
            let version = Int(versionText.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return (version, site)
    }

    /// Stores an applied configuration as a site file: the file first, then its version, so a crash in between
    /// leaves a version that is older than the file (fetched again), never newer.
    public func storeConfiguration(version: Int, site: Site) throws {
        try Self.writeAtomically(Data(SiteWriter.yaml(site).utf8), to: self.configurationFile)
        try Self.writeAtomically(Data("\(version)\n".utf8), to: self.versionFile)
    }

    var certificatesDirectory: URL { self.url.appendingPathComponent("certificates") }

    /// The site of `update` as the device runs it: each `managedCertificate` replaced by the `certificate` and
    /// `privateKey` files it was written to (mode 0600, named by their content, so a running configuration's files
    /// are never overwritten).
    ///
    /// - Throws: when the site cannot be read, names a certificate the console did not send, or a file cannot be
    ///   written.
    public func materialize(_ update: ConfigurationUpdate) throws -> Site {
        var site = try SiteReader.load(yaml: update.yaml)
        for vsIndex in site.virtualServers.indices {
            for payloadIndex in site.virtualServers[vsIndex].payloads.indices {
                guard let name = site.virtualServers[vsIndex].payloads[payloadIndex].managedCertificate else {
                    continue
                }
                guard let certificate = update.certificates.first(where: { $0.name == name }) else {
                    throw AgentError.console(
                        "the console sent no certificate \(name) (virtual server \(site.virtualServers[vsIndex].name))"
                    )
                }
                let digest = SHA256.hash(data: Data((certificate.certificate + "\u{0}" + certificate.privateKey).utf8))
                let stem = name + "-" + digest.prefix(8).map { String(format: "%02x", $0) }.joined()
                let chainFile = self.certificatesDirectory.appendingPathComponent(stem + ".pem")
                let keyFile = self.certificatesDirectory.appendingPathComponent(stem + ".key")
                if !FileManager.default.fileExists(atPath: chainFile.path) {
                    try Self.writeAtomically(Data(certificate.certificate.utf8), to: chainFile)
                }
                if !FileManager.default.fileExists(atPath: keyFile.path) {
                    try Self.writeAtomically(Data(certificate.privateKey.utf8), to: keyFile)
                }
                site.virtualServers[vsIndex].payloads[payloadIndex].managedCertificate = nil
                site.virtualServers[vsIndex].payloads[payloadIndex].certificate = chainFile.path
                site.virtualServers[vsIndex].payloads[payloadIndex].privateKey = keyFile.path
            }
        }
        return site
    }

    /// Removes the certificate files that `site` (the configuration just stored) does not name.
    public func pruneCertificates(keeping site: Site) {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: self.certificatesDirectory.path) else {
            return
        }
        let used = Set(
            site.virtualServers.flatMap(\.payloads).flatMap { [$0.certificate, $0.privateKey].compactMap { $0 } }
        )
        for file in files where !used.contains(self.certificatesDirectory.appendingPathComponent(file).path) {
            try? FileManager.default.removeItem(at: self.certificatesDirectory.appendingPathComponent(file))
        }
    }

    /// Writes `data` to a temporary file beside `url`, flushes it to disk, renames it over `url`, and flushes the
    /// directory: after a crash the file is either the old one or the new one, whole.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(
            at: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentError.file(temporary.path, errno: errno) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0 else {
            unlink(temporary.path)
            throw AgentError.file(temporary.path, errno: errno)
        }
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw AgentError.file(url.path, errno: errno)
        }
        let directoryFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
