import HALBCore

/// Which virtual servers of a site this device runs VRRP for: the enabled ones that list it among two or more
/// devices. A virtual server with one device is served without failover.
///
/// The failover side of a site, as `BalancerConfiguration(site:device:)` (HALBBalancer) is its data-plane side.
public enum FailoverPlan {
    /// The other devices' addresses, for unicast advertisements.
    public static func peers(of device: String, in vs: VirtualServer, site: Site) -> [VRRPAddress] {
        vs.devices.compactMap { assignment in
            guard assignment.name != device else { return nil }
            return site.devices.first { $0.name == assignment.name }.flatMap { VRRPAddress($0.address) }
        }
    }

    /// The devices' addresses, this one's included, whose IPv4 advertisements the virtual server's router obeys
    /// with `acceptFrom: peers` (the validator makes them IPv4 literals).
    public static func acceptedSenders(in vs: VirtualServer, site: Site) -> Set<VRRPAddress> {
        Set(
            vs.devices.compactMap { assignment in
                site.devices.first { $0.name == assignment.name }.flatMap { VRRPAddress($0.address) }
            }
        )
    }

    /// The virtual routers of `device`: one per virtual server and address family (IPv4, and IPv6 when the
    /// virtual server has an IPv6 VIP), with the same VRID.
    ///
    /// With `acceptFrom: peers` an IPv4 router obeys only the devices' addresses. An IPv6 router obeys any sender
    /// that passes RFC 5798's checks (hop limit 255, so on the link): IPv6 advertisements come from the sender's
    /// link-local address, which the site does not know (it names IPv4 or global addresses).
    ///
    /// - Parameter unicast: send advertisements to the other devices whatever the site says (the loopback demo).
    public static func configurations(site: Site, device: String, unicast: Bool = false) -> [VirtualRouterConfiguration]
    {
        guard let me = site.devices.first(where: { $0.name == device }) else { return [] }
        return site.virtualServers.indices.flatMap { index -> [VirtualRouterConfiguration] in
            let vs = site.virtualServers[index]
            guard vs.enabled, vs.devices.count >= 2,
                let priority = site.vrrpPriority(of: device, inVirtualServerAt: index)
            else { return [] }
            let vips = [(vs.vip.ipv4, 4), (vs.vip.ipv6, 6)].compactMap {
                text,
                family -> VirtualRouterConfiguration.VirtualAddress? in
                guard let text, let (address, prefix) = AddressText.cidr(text, family: family),
                    let vip = VRRPAddress(address)
                else { return nil }
                return .init(address: vip, prefix: prefix)
            }
            // The loopback demo's transport is IPv4 only.
            return vips.filter { !(unicast && $0.address.isIPv6) }.map { vip in
                VirtualRouterConfiguration(
                    name: vs.name,
                    interface: vs.vip.interface ?? me.interface,
                    vrid: UInt8(site.routerID(ofVirtualServerAt: index)),
                    priority: UInt8(priority),
                    advertInterval: UInt16(vs.vrrp.advertInterval.milliseconds / 10),
                    preempt: vs.vrrp.preempt,
                    preemptDelay: vs.vrrp.preemptDelay.duration,
                    addresses: [vip],
                    // Unicast is IPv4 only (the validator says so): the devices' addresses are IPv4.
                    unicastPeers: (vs.vrrp.unicast || unicast) && !vip.address.isIPv6
                        ? Self.peers(of: device, in: vs, site: site) : [],
                    acceptedSenders: vs.vrrp.acceptFrom == .peers && !vip.address.isIPv6
                        ? Self.acceptedSenders(in: vs, site: site) : nil
                )
            }
        }
    }
}
