import Foundation
import HALBBalancer
import HALBCore

/// Reading a site file from disk, with errors an operator can act on.
enum SiteFile {
    /// Reads and validates the site in `path`.
    ///
    /// - Throws: ``ConfigurationError`` with every problem, including an unreadable file.
    static func load(path: String) throws(ConfigurationError) -> Site {
        let text: String
        do {
            text = try self.read(path: path)
        } catch {
            throw ConfigurationError(issues: [ConfigurationIssue(path: "", message: "cannot read \(path): \(error)")])
        }
        return try SiteReader.load(yaml: text)
    }

    static func read(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                throw FileProblem(description: isDirectory.boolValue ? "it is a directory" : "permission denied")
            }
            throw FileProblem(description: "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FileProblem(description: "it is not UTF-8 text")
        }
        return text
    }

    /// Why `device` cannot run from `site`, or `nil` when it serves at least one virtual server and its TLS
    /// certificates and keys (for offload) can be used.
    static func problem(site: Site, device: String) -> String? {
        guard site.device(named: device) != nil else {
            let known = site.devices.map(\.name).joined(separator: ", ")
            return "no device named \"\(device)\" in site \(site.name) (devices: \(known.isEmpty ? "none" : known))"
        }
        let configuration = BalancerConfiguration(site: site, device: device)
        if configuration.listeners.isEmpty && configuration.udpListeners.isEmpty {
            return "device \(device) serves no enabled virtual server: list it under a virtual server's `devices`"
        }
        // TLS offload: the certificates and keys on this device must be usable now.
        for listener in configuration.listeners {
            guard let tls = listener.route.tls else { continue }
            do {
                _ = try TLSOffload.load(tls)
            } catch {
                return "virtual server \(listener.route.virtualServer), ssl payload: \(error)"
            }
        }
        return nil
    }

    struct FileProblem: Error, CustomStringConvertible {
        let description: String
    }
}
