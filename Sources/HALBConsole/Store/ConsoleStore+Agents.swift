import Crypto
import Foundation
import GRDB
import HALBCore
import HALBWire

/// An enrolled device, as its credential identifies it.
public struct EnrolledAgent: Sendable, Hashable {
    public var site: String
    public var device: String
    /// Signs the configurations sent to this device, so it accepts them from its console only.
    public var signingKey: String
}

extension ConsoleStore {
    /// The heartbeat interval of a device that does not say its own (an older one). A device is Offline after three
    /// missed heartbeats.
    static let defaultHeartbeatInterval = 5

    /// Issues a one-time join token for device `device` of site `site`, valid for `lifetime`.
    public func createJoinToken(
        site: String,
        device: String,
        lifetime: Duration,
        actor: String
    ) async throws -> (token: String, expiresAt: String) {
        let (id, secret, token) = Credentials.newToken()
        let expires = Self.timestamp(Date().addingTimeInterval(TimeInterval(lifetime.components.seconds)))
        try await self.writer.write { db in
            let current = try self.current(site, db)
            guard current.site.devices.contains(where: { $0.name == device }) else {
                throw ConsoleError.notFound("no device named \(device) in site \(site)")
            }
            try JoinTokenRecord(
                id: id,
                site: site,
                device: device,
                secretHash: Credentials.hashSecret(secret),
                createdAt: Self.timestamp(),
                expiresAt: expires,
                usedAt: nil
            )
            .insert(db)
            try Self.audit(
                actor: actor,
                action: "create",
                target: "join token \(id)",
                site: site,
                version: nil,
                detail: "device \(device)",
                db
            )
        }
        return ("halb_join_" + token.dropFirst(5), expires)
    }

    /// Enrols a device with a join token: the token is used up, and the device gets a new credential (replacing
    /// an earlier one) and signing key.
    ///
    /// - Throws: ``ConsoleError/unauthorized(_:)`` for an unknown, used or expired token, or another device name.
    public func enrol(joinToken: String, device: String) async throws -> Enrolment {
        guard joinToken.hasPrefix("halb_join_"),
            let (id, secret) = Credentials.parseToken("halb_" + joinToken.dropFirst(10))
        else {
            throw ConsoleError.unauthorized("not a join token")
        }
        let (credentialID, credentialSecret, credential) = Credentials.newToken()
        let signingKey = Credentials.randomHex(bytes: 32)
        return try await self.writer.write { db in
            guard let joinToken = try JoinTokenRecord.fetchOne(db, key: id),
                Credentials.secret(secret, matches: joinToken.secretHash)
            else { throw ConsoleError.unauthorized("the join token is unknown") }
            guard joinToken.usedAt == nil else {
                throw ConsoleError.unauthorized("the join token was used already")
            }
            guard joinToken.expiresAt > Self.timestamp() else {
                throw ConsoleError.unauthorized("the join token has expired")
            }
            let site = joinToken.site
            guard joinToken.device == device else {
                throw ConsoleError.unauthorized("the join token is for device \(joinToken.device), not \(device)")
            }
            try JoinTokenRecord.filter(key: id).updateAll(db, JoinTokenRecord.Columns.usedAt.set(to: Self.timestamp()))
            try AgentRecord.deleteOne(db, key: ["site": site, "device": device])
            try AgentRecord(
                site: site,
                device: device,
                credentialID: credentialID,
                credentialHash: Credentials.hashSecret(credentialSecret),
                signingKey: signingKey,
                enrolledAt: Self.timestamp()
            )
            .insert(db)
            try Self.audit(
                actor: "device \(device)",
                action: "enrol",
                target: "device \(device)",
                site: site,
                version: nil,
                detail: "join token \(id)",
                db
            )
            return Enrolment(site: site, device: device, credential: credential, signingKey: signingKey)
        }
    }

    /// The enrolled device a credential belongs to.
    public func agent(forCredential credential: String) async throws -> EnrolledAgent? {
        guard let (id, secret) = Credentials.parseToken(credential) else { return nil }
        let record = try await self.writer.read { db in
            try AgentRecord.filter(AgentRecord.Columns.credentialID == id).fetchOne(db)
        }
        guard let record, Credentials.secret(secret, matches: record.credentialHash) else { return nil }
        return EnrolledAgent(site: record.site, device: record.device, signingKey: record.signingKey)
    }

    /// The configuration of `agent`: its site with only the virtual servers that list it (their router ids
    /// pinned, as the ids default to positions), at the current version.
    public func configuration(for agent: EnrolledAgent) async throws -> AgentConfiguration {
        try await self.configuration(of: try await self.site(agent.site), for: agent)
    }

    /// The configuration of `agent` at version `stored`: its site file is written once per version and device
    /// (``ParsedSites``); its certificates' keys are sealed anew for each answer.
    private func configuration(of stored: StoredSite, for agent: EnrolledAgent) async throws -> AgentConfiguration {
        let file = self.parsed.deviceFile(of: stored, device: agent.device)
        return AgentConfiguration(
            version: stored.version,
            site: file,
            certificates: try await self.deliveredCertificates(
                of: Self.siteOfDevice(stored.site, device: agent.device),
                in: agent.site,
                signingKey: agent.signingKey
            )
        )
    }

    /// Waits until site `agent.site` is newer than `version` (at most `timeout`, or until the task is cancelled),
    /// then returns its configuration; `nil` when there is none newer.
    public func configuration(
        for agent: EnrolledAgent,
        after version: Int,
        timeout: Duration
    ) async throws -> AgentConfiguration? {
        // The whole configuration (certificate keys opened and sealed again) is made only when it is sent.
        let generation = await self.changes.generation(of: agent.site)
        let current = try await self.site(agent.site)
        if current.version > version { return try await self.configuration(of: current, for: agent) }
        await self.changes.wait(for: agent.site, since: generation, timeout: timeout)
        // Cancelled (the console shuts down): "no change"; the device asks again, of the next console.
        if Task.isCancelled { return nil }
        let after = try await self.site(agent.site)
        guard after.version > version else { return nil }
        return try await self.configuration(of: after, for: agent)
    }

    /// Records that `agent` applied `version` (ACK, `error` nil) or refused it (NACK, with the reason).
    public func acknowledge(_ agent: EnrolledAgent, version: Int, error: String?) async throws {
        try await self.writer.write { db in
            let row = AgentRecord.filter(key: ["site": agent.site, "device": agent.device])
            if let error {
                try row.updateAll(
                    db,
                    AgentRecord.Columns.nackVersion.set(to: version),
                    AgentRecord.Columns.nackError.set(to: String(error.prefix(2000))),
                    AgentRecord.Columns.lastSeen.set(to: Self.timestamp())
                )
            } else {
                try row.updateAll(
                    db,
                    AgentRecord.Columns.appliedVersion.set(to: version),
                    AgentRecord.Columns.nackVersion.set(to: nil),
                    AgentRecord.Columns.nackError.set(to: nil),
                    AgentRecord.Columns.lastSeen.set(to: Self.timestamp())
                )
            }
        }
    }

    /// Stores `agent`'s heartbeat.
    public func heartbeat(_ agent: EnrolledAgent, report: AgentReport) async throws {
        let text = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        try await self.writer.write { db in
            let row = AgentRecord.filter(key: ["site": agent.site, "device": agent.device])
            let previous = try row.fetchOne(db)
            let now = Self.timestamp()
            let since = PrimaryClaims.since(
                previous: previous?.report.flatMap(Self.decodeReport),
                previousSince: previous?.primarySince.flatMap(Self.decodeSince) ?? [:],
                report: report,
                now: now
            )
            _ = try row.updateAll(
                db,
                AgentRecord.Columns.lastSeen.set(to: now),
                AgentRecord.Columns.softwareVersion.set(to: String(report.softwareVersion.prefix(64))),
                AgentRecord.Columns.report.set(to: text),
                AgentRecord.Columns.primarySince.set(
                    to: String(decoding: try JSONEncoder().encode(since), as: UTF8.self)
                )
            )
        }
    }

    /// Every device of site `site` with its agent status, as seen at `now` by a console of `consoleVersion`.
    public func deviceStatuses(site: String, consoleVersion: String, now: Date) async throws -> [DeviceStatus] {
        let stored = try await self.site(site)
        let rows = try await self.writer.read { db in
            try AgentRecord.filter(AgentRecord.Columns.site == site).fetchAll(db).map { record in
                (
                    device: record.device,
                    lastSeen: record.lastSeen,
                    software: record.softwareVersion,
                    applied: record.appliedVersion,
                    nackVersion: record.nackVersion,
                    nackError: record.nackError,
                    report: record.report,
                    primarySince: record.primarySince
                )
            }
        }
        // Three missed heartbeats at the interval the device reports (1 to 60 s).
        func offlineBefore(_ report: AgentReport?) -> String {
            let interval = min(60, max(1, report?.heartbeatInterval ?? Self.defaultHeartbeatInterval))
            return Self.timestamp(now.addingTimeInterval(-3 * TimeInterval(interval)))
        }
        // The primary claims of devices that are not offline, to drop those a newer claim supersedes.
        let claimants = rows.compactMap { row -> PrimaryClaims.Claimant? in
            let report = row.report.flatMap(Self.decodeReport)
            guard let lastSeen = row.lastSeen, lastSeen >= offlineBefore(report), report?.stopping != true else {
                return nil
            }
            return PrimaryClaims.Claimant(
                device: row.device,
                lastSeen: lastSeen,
                since: row.primarySince.flatMap(Self.decodeSince) ?? [:]
            )
        }
        return stored.site.devices.map { device in
            guard let row = rows.first(where: { $0.device == device.name }) else {
                return DeviceStatus(
                    device: device.name,
                    state: .notVerified,
                    siteVersion: stored.version,
                    roles: [],
                    gateways: []
                )
            }
            let report = row.report.flatMap(Self.decodeReport)
            let state: AgentState
            if row.lastSeen.map({ $0 < offlineBefore(report) }) ?? true || report?.stopping == true {
                // Three heartbeats missed, or the device said in its last one that it stops.
                state = .offline
            } else if row.nackError != nil {
                state = .configError
            } else if let software = row.software, Self.isOlder(software, than: consoleVersion) {
                state = .needsUpdate
            } else {
                state = .ok
            }
            return DeviceStatus(
                device: device.name,
                state: state,
                softwareVersion: row.software,
                // What the device runs: its last ACK, or its heartbeat when that is newer (the two travel apart, and a
                // heartbeat may arrive before the ACK of the version it reports).
                appliedVersion: [row.applied, report?.appliedVersion].compactMap { $0 }.max(),
                siteVersion: stored.version,
                lastSeen: row.lastSeen,
                error: row.nackError.map { "version \(row.nackVersion ?? 0): \($0)" },
                // An offline device's last report is history: showing its roles would show a dead primary as the
                // primary next to the one that took over.
                // A primary claim another device's newer claim supersedes is left out: the device has not said
                // anything since that one took over (it was killed, or lost its network), see ``PrimaryClaims``.
                roles: state == .offline ? [] : Self.believedRoles(report?.roles ?? [], of: device.name, claimants),
                gateways: state == .offline ? [] : report?.gateways ?? []
            )
        }
    }

    /// `roles`, the roles device `device` reports, without the primary claims that `claimants` supersede.
    private static func believedRoles(
        _ roles: [AgentRole],
        of device: String,
        _ claimants: [PrimaryClaims.Claimant]
    ) -> [AgentRole] {
        guard let claimant = claimants.first(where: { $0.device == device }) else { return roles }
        let superseded = PrimaryClaims.superseded(for: claimant, among: claimants)
        return roles.filter { $0.role != .primary || !superseded.contains(PrimaryClaims.key($0)) }
    }

    private static func decodeReport(_ text: String) -> AgentReport? {
        try? JSONDecoder().decode(AgentReport.self, from: Data(text.utf8))
    }

    private static func decodeSince(_ text: String) -> [String: String]? {
        try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }

    /// `site` with only the virtual servers that list `device`, their router ids made explicit.
    static func siteOfDevice(_ site: Site, device: String) -> Site {
        var filtered = site
        filtered.virtualServers = site.virtualServers.indices.compactMap { index in
            var vs = site.virtualServers[index]
            guard vs.devices.contains(where: { $0.name == device }) else { return nil }
            vs.vrrp.routerID = site.routerID(ofVirtualServerAt: index)
            return vs
        }
        return filtered
    }

    /// Whether dotted version `version` is older than `other` (`0.1.0` < `0.2.0`).
    static func isOlder(_ version: String, than other: String) -> Bool {
        let lhs = version.split(separator: ".").map { Int($0) ?? 0 }
        let rhs = other.split(separator: ".").map { Int($0) ?? 0 }
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            if left != right { return left < right }
        }
        return false
    }
}
