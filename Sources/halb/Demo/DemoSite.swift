/// The embedded demo site: three gateways on loopback and one device serving them on 127.0.0.10:8080.
enum DemoSite {
    static let device = "lb1"

    static let yaml = """
        site: demo
        gateways:
          - { name: gw1, address: 127.0.0.1, ports: { gateway: 18081 } }
          - { name: gw2, address: 127.0.0.1, ports: { gateway: 18082 } }
          - { name: gw3, address: 127.0.0.1, ports: { gateway: 18083 } }
        devices:
          - { name: lb1, address: 127.0.0.1, interface: lo }
        virtualServers:
          - name: web
            vip: { ipv4: 127.0.0.10/8 }
            devices: [lb1]
            payloads:
              gateway: { port: 8080, gateways: [gw1, gw2, gw3], balancing: leastconn }
            healthCheck: { type: http, interval: 500ms, timeout: 300ms, rise: 2, fall: 2 }

        """
}
