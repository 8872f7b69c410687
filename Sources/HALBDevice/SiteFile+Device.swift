import HALBBalancer
import HALBCore

extension SiteFile {
    /// Why `device` cannot run from `site`, or `nil` when it serves at least one virtual server and its TLS
    /// certificates and keys (for offload) can be used.
    public static func problem(site: Site, device: String) -> String? {
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
}
