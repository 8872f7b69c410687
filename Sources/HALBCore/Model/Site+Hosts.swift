extension Site {
    /// The hosts a device of this site may be asked to reach ("ping host"): its gateways', its devices' and its
    /// VIPs' addresses (a VIP without its prefix length). A device checks only these, whoever asks.
    public var hostAddresses: Set<String> {
        var addresses = Set(self.gateways.map(\.address) + self.devices.map(\.address))
        for virtualServer in self.virtualServers {
            for vip in [virtualServer.vip.ipv4, virtualServer.vip.ipv6].compactMap({ $0 }) {
                addresses.insert(String(vip.split(separator: "/").first ?? Substring(vip)))
            }
        }
        return addresses
    }
}
