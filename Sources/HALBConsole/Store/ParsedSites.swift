import HALBCore
import Synchronization

/// The current version of each site as the store last read or wrote it, parsed: a version's text goes through
/// ``SiteReader`` once, not on every request or long poll, and each device's part of it is written once.
///
/// An entry is used only for the same site, version and stored text, so it is never stale: a site deleted and
/// created again (version 1 anew), or changed by another process sharing the database, has another text and is
/// read again.
final class ParsedSites: Sendable {
    private struct Entry {
        /// The text in the store the site was read from.
        var source: String
        var stored: StoredSite
        /// Each device's site file, by device name (``ConsoleStore/siteOfDevice(_:device:)``).
        var deviceFiles: [String: String] = [:]
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Version `version` of site `name`, stored as `source`: read from the cache when it holds that text, else
    /// read (and kept when `current`, the site's current version).
    ///
    /// - Throws: ``ConfigurationError`` when the text is not a valid site.
    func site(
        _ name: String,
        version: Int,
        source: String,
        current: Bool
    ) throws(ConfigurationError) -> StoredSite {
        let cached = self.entries.withLock { entries -> StoredSite? in
            guard let entry = entries[name], entry.stored.version == version, entry.source == source else {
                return nil
            }
            return entry.stored
        }
        if let cached { return cached }
        let stored = StoredSite(name: name, version: version, site: try SiteReader.load(yaml: source))
        if current { self.remember(stored, source: source) }
        return stored
    }

    /// Keeps `stored`, read from or written as `source`, as the current version of its site.
    func remember(_ stored: StoredSite, source: String) {
        self.entries.withLock { $0[stored.name] = Entry(source: source, stored: stored) }
    }

    /// Forgets site `name` (deleted).
    func forget(_ name: String) {
        _ = self.entries.withLock { $0.removeValue(forKey: name) }
    }

    /// The site file of device `device`: `stored` cut down to its virtual servers, written once per version.
    func deviceFile(of stored: StoredSite, device: String) -> String {
        let cached = self.entries.withLock { entries -> String? in
            guard let entry = entries[stored.name], Self.same(entry.stored, stored) else { return nil }
            return entry.deviceFiles[device]
        }
        if let cached { return cached }
        let file = SiteWriter.yaml(ConsoleStore.siteOfDevice(stored.site, device: device))
        self.entries.withLock { entries in
            guard let entry = entries[stored.name], Self.same(entry.stored, stored) else { return }
            entries[stored.name]?.deviceFiles[device] = file
        }
        return file
    }

    private static func same(_ lhs: StoredSite, _ rhs: StoredSite) -> Bool {
        lhs.version == rhs.version && lhs.yaml == rhs.yaml
    }
}
