import HALBWire

/// Which device's "I am primary" the console believes, when two say so for the same virtual router.
///
/// A device killed without a word keeps its last heartbeat, which names it primary, until three heartbeats are
/// missed (6 s). Meanwhile the secondary that took over says at once that it is primary (a device sends a heartbeat
/// on every VRRP transition). The console remembers since when each device has claimed each virtual router
/// (`primary since`: the first heartbeat that named it primary). A claim is superseded when another device's claim
/// for the same virtual router began after this device's last heartbeat: had the device lived, it would have
/// reported since, either as secondary (it lost the election) or as primary again (a real split brain, then both
/// show).
enum PrimaryClaims {
    /// The key of a virtual router in a device's claims: its virtual server and address family.
    static func key(_ role: AgentRole) -> String {
        role.virtualServer + "/" + (role.family ?? "")
    }

    /// Since when each virtual router of `report` has been claimed, the report arriving at `now`: the earlier time
    /// for a claim the previous report made too, `now` for a new one. Only primary roles of virtual routers count
    /// (a standalone virtual server has one device and nothing to dispute).
    static func since(
        previous: AgentReport?,
        previousSince: [String: String],
        report: AgentReport,
        now: String
    ) -> [String: String] {
        var since: [String: String] = [:]
        let claimedBefore = Set((previous?.roles ?? []).filter { $0.role == .primary }.map(Self.key))
        for role in report.roles where role.role == .primary {
            let key = Self.key(role)
            since[key] = claimedBefore.contains(key) ? previousSince[key] ?? now : now
        }
        return since
    }

    /// The claims each device's heartbeats make, with since when and the time of its last heartbeat.
    struct Claimant {
        var device: String
        var lastSeen: String
        var since: [String: String]
    }

    /// The virtual routers whose primary claim by `device` another device's newer claim supersedes.
    static func superseded(for device: Claimant, among others: [Claimant]) -> Set<String> {
        var superseded: Set<String> = []
        for key in device.since.keys {
            let newer = others.contains { other in
                other.device != device.device && (other.since[key].map { $0 > device.lastSeen } ?? false)
            }
            if newer { superseded.insert(key) }
        }
        return superseded
    }
}
