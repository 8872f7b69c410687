/// Where `halb appliance configure` read the settings from; written in the files it makes.
public enum ApplianceSource: String, Sendable, Hashable, CaseIterable {
    /// A cloud-init NoCloud seed (`meta-data` and `user-data`).
    case nocloud
    /// A VMware OVF environment document (vApp properties).
    case ovf
    /// The interactive wizard on the console.
    case wizard
}
