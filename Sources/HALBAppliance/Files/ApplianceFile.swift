/// A file `halb appliance configure` writes, relative to the root it writes under.
public struct ApplianceFile: Sendable, Hashable {
    /// The path below the root, without a leading slash: `etc/hostname`.
    public var path: String
    /// The whole contents.
    public var contents: String
    /// The permission bits: 0644, or 0600 for a secret.
    public var mode: UInt32
    /// Whether a symbolic link at the path is left alone (`etc/resolv.conf` when systemd-resolved manages it).
    public var leavesSymlink: Bool

    /// Creates a file.
    public init(path: String, contents: String, mode: UInt32 = 0o644, leavesSymlink: Bool = false) {
        self.path = path
        self.contents = contents
        self.mode = mode
        self.leavesSymlink = leavesSymlink
    }
}
