import Crypto
import Foundation
import GRDB
import HALBCertificates
import HALBCore
import HALBWire

extension ConsoleStore {
    /// Stores certificate `name` of site `site` (a chain and its key, PEM), replacing one of that name. When the
    /// site's virtual servers use it, the site gets a new version (same document), so their devices load it.
    ///
    /// - Returns: the certificate, whether it is new, and the site's version afterwards.
    /// - Throws: ``ConsoleError`` (and nothing is stored) for an unknown site, a bad name, or a chain or key that
    ///   cannot be used now: not PEM, expired, not yet valid, or a key of another certificate.
    public func putCertificate(
        site: String,
        name: String,
        certificatePEM: String,
        privateKeyPEM: String,
        actor: String,
        now: Date
    ) async throws -> (info: CertificateInfo, created: Bool, version: Int) {
        guard Self.isCertificateName(name) else {
            throw ConsoleError.invalidRequest([
                ConfigurationIssue(
                    path: "name",
                    message:
                        "\"\(name.prefix(80))\" is not a certificate name (1-63 letters, digits, - _ . starting with a letter or digit)"
                )
            ])
        }
        let summary: CertificateSummary
        do {
            summary = try CertificateCheck.check(certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM, now: now)
        } catch {
            throw ConsoleError.invalidRequest([ConfigurationIssue(path: error.field, message: error.reason)])
        }
        let sealed = try AES.GCM.seal(
            Data(privateKeyPEM.utf8),
            using: self.secretsKey,
            authenticating: Data("\(site)/\(name)".utf8)
        )
        guard let sealedBytes = sealed.combined else {
            throw ConsoleError.badRequest("the private key cannot be sealed")
        }
        let fingerprint = SHA256.hash(data: summary.leafDER).map { String(format: "%02x", $0) }.joined()
        let stamp = Self.timestamp(now)
        let result = try await self.writer.write { db in
            let current = try self.current(site, db)
            let created = try !CertificateRecord.exists(db, key: ["site": site, "name": name])
            try CertificateRecord(
                site: site,
                name: name,
                certificate: certificatePEM,
                privateKeySealed: sealedBytes,
                subject: summary.subject,
                notBefore: Self.timestamp(summary.notValidBefore),
                notAfter: Self.timestamp(summary.notValidAfter),
                fingerprint: fingerprint,
                chainLength: summary.chainLength,
                updatedAt: stamp
            )
            .insert(db, onConflict: .replace)
            let users = Self.users(of: name, in: current.site)
            var version = current.version
            var replaced: StoredSite?
            if !users.isEmpty {
                // The devices of these virtual servers must load the new certificate: a new version wakes them.
                var site = current.site
                version += 1
                site.version = version
                let stored = StoredSite(name: site.name, version: version, site: site)
                try SiteRecord(name: site.name, version: version).update(db)
                try Self.storeVersion(
                    stored,
                    change: "\(created ? "upload" : "replace") certificate \(name)",
                    author: actor,
                    db
                )
                replaced = stored
            }
            try Self.audit(
                actor: actor,
                action: created ? "create" : "update",
                target: "certificate \(name)",
                site: site,
                version: users.isEmpty ? nil : version,
                detail:
                    "\(summary.subject), valid until \(Self.timestamp(summary.notValidAfter)), SHA-256 \(fingerprint)",
                db
            )
            let info = CertificateInfo(
                name: name,
                subject: summary.subject,
                subjectAlternativeNames: summary.subjectAlternativeNames,
                notValidBefore: Self.timestamp(summary.notValidBefore),
                notValidAfter: Self.timestamp(summary.notValidAfter),
                fingerprint: fingerprint,
                chainLength: summary.chainLength,
                updatedAt: stamp,
                usedBy: users
            )
            return (info, created, version, replaced)
        }
        if let replaced = result.3 {
            self.parsed.remember(replaced, source: replaced.yaml)
            await self.changes.changed(site)
        }
        return (result.0, result.1, result.2)
    }

    /// The certificates of site `site`, by name (without their chains).
    public func certificates(site: String) async throws -> [CertificateInfo] {
        try await self.writer.read { db in
            let current = try self.current(site, db)
            return try CertificateRecord.filter(CertificateRecord.Columns.site == site)
                .order(CertificateRecord.Columns.name)
                .fetchAll(db)
                .map { Self.info($0, site: current.site, withChain: false) }
        }
    }

    /// Certificate `name` of site `site`, with its chain (never its key).
    public func certificate(site: String, name: String) async throws -> CertificateInfo {
        try await self.writer.read { db in
            let current = try self.current(site, db)
            guard let record = try CertificateRecord.fetchOne(db, key: ["site": site, "name": name]) else {
                throw ConsoleError.notFound("no certificate named \(name) in site \(site)")
            }
            return Self.info(record, site: current.site, withChain: true)
        }
    }

    /// Deletes certificate `name` of site `site`.
    ///
    /// - Throws: ``ConsoleError/conflict(_:)`` while a virtual server uses it.
    public func deleteCertificate(site: String, name: String, actor: String) async throws {
        try await self.writer.write { db in
            let current = try self.current(site, db)
            let users = Self.users(of: name, in: current.site)
            guard users.isEmpty else {
                throw ConsoleError.conflict(
                    "certificate \(name) is used by virtual server\(users.count == 1 ? "" : "s") \(users.joined(separator: ", ")): change their managedCertificate first"
                )
            }
            guard try CertificateRecord.deleteOne(db, key: ["site": site, "name": name]) else {
                throw ConsoleError.notFound("no certificate named \(name) in site \(site)")
            }
            try Self.audit(
                actor: actor,
                action: "delete",
                target: "certificate \(name)",
                site: site,
                version: nil,
                detail: "",
                db
            )
        }
    }

    /// The certificates `site` (one device's part of a site) uses, each key sealed for the device with
    /// `signingKey`.
    func deliveredCertificates(
        of site: Site,
        in siteName: String,
        signingKey: String
    ) async throws -> [DeliveredCertificate] {
        let names = Set(site.virtualServers.flatMap { $0.payloads.compactMap(\.managedCertificate) })
        guard !names.isEmpty else { return [] }
        let rows = try await self.writer.read { db in
            try CertificateRecord.filter(CertificateRecord.Columns.site == siteName)
                .fetchAll(db)
                .filter { names.contains($0.name) }
                .map { (name: $0.name, certificate: $0.certificate, sealed: $0.privateKeySealed) }
        }
        let deliveryKey = AgentSigning.deliveryKey(signingKey: signingKey)
        return try rows.map { row in
            let key = try AES.GCM.open(
                AES.GCM.SealedBox(combined: row.sealed),
                using: self.secretsKey,
                authenticating: Data("\(siteName)/\(row.name)".utf8)
            )
            // The default 12-byte nonce always gives a combined form.
            guard let sealed = try AES.GCM.seal(key, using: deliveryKey, authenticating: Data(row.name.utf8)).combined
            else {
                throw ConsoleError.conflict("the key of certificate \(row.name) cannot be sealed for the device")
            }
            return DeliveredCertificate(
                name: row.name,
                certificate: row.certificate,
                privateKey: sealed.base64EncodedString()
            )
        }
    }

    /// Every `managedCertificate` of `site` must be a certificate of the site.
    static func checkCertificates(of site: Site, _ db: Database) throws {
        var issues: [ConfigurationIssue] = []
        for (index, vs) in site.virtualServers.enumerated() {
            for payload in vs.payloads {
                guard let name = payload.managedCertificate else { continue }
                if try !CertificateRecord.exists(db, key: ["site": site.name, "name": name]) {
                    issues.append(
                        ConfigurationIssue(
                            path: "virtualServers[\(index)].payloads.\(payload.kind.rawValue).managedCertificate",
                            message:
                                "\"\(name)\" is not a certificate of site \(site.name) (upload it first: PUT /api/v1/sites/\(site.name)/certificates/\(name))"
                        )
                    )
                }
            }
        }
        if !issues.isEmpty { throw ConsoleError.invalid(issues) }
    }

    /// The virtual servers of `site` whose payloads use certificate `name`.
    private static func users(of name: String, in site: Site) -> [String] {
        site.virtualServers.filter { $0.payloads.contains { $0.managedCertificate == name } }.map(\.name)
    }

    private static func info(_ record: CertificateRecord, site: Site, withChain: Bool) -> CertificateInfo {
        CertificateInfo(
            name: record.name,
            subject: record.subject,
            subjectAlternativeNames: CertificateCheck.subjectAlternativeNames(ofPEM: record.certificate),
            notValidBefore: record.notBefore,
            notValidAfter: record.notAfter,
            fingerprint: record.fingerprint,
            chainLength: record.chainLength,
            updatedAt: record.updatedAt,
            usedBy: Self.users(of: record.name, in: site),
            certificate: withChain ? record.certificate : nil
        )
    }

    private static func isCertificateName(_ name: String) -> Bool {
        name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"#, options: .regularExpression) != nil
    }
}
