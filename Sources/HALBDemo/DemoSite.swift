/// The embedded demo site: three gateways on loopback and two devices sharing one virtual server on 127.0.0.10:8080.
/// The gateways' `ssl` port is their HTTP port, so a virtual server that offloads TLS can be tried on them.
public enum DemoSite {
    public static let devices = ["lb1", "lb2"]
    /// The UDP port the demo devices exchange VRRP advertisements on.
    public static let vrrpPort = 18112

    public static let yaml = """
        site: demo
        gateways:
          - { name: gw1, address: 127.0.0.1, ports: { gateway: 18081, ssl: 18081 } }
          - { name: gw2, address: 127.0.0.1, ports: { gateway: 18082, ssl: 18082 } }
          - { name: gw3, address: 127.0.0.1, ports: { gateway: 18083, ssl: 18083 } }
        devices:
          - { name: lb1, address: 127.0.0.11, interface: lo }
          - { name: lb2, address: 127.0.0.12, interface: lo }
        virtualServers:
          - name: web
            vip: { ipv4: 127.0.0.10/8 }
            vrrp: { routerId: 1, advertInterval: 100ms }
            devices: [lb1, lb2]
            payloads:
              gateway: { port: 8080, gateways: [gw1, gw2, gw3], balancing: leastconn }
            healthCheck: { type: http, interval: 500ms, timeout: 300ms, rise: 2, fall: 2 }

        """
}
