/// The software version of this build: what `halb --version` prints, what a device reports to its console, and
/// what the console compares devices with (Needs update). One place, so they cannot drift apart.
public enum HALBVersion {
    public static let current = "0.1.0"
}
