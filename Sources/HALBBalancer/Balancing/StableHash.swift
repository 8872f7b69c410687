/// A hash that is the same in every process and on every machine, unlike Swift's randomly seeded `Hasher`.
///
/// Devices must agree on which gateway a client hashes to, so tables built from it are built from this.
/// FNV-1a over the bytes, finished with the SplitMix64 mixer for good avalanche.
enum StableHash {
    static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes, seed: UInt64 = 0) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        return self.mix(value)
    }

    static func mix(_ input: UInt64) -> UInt64 {
        var z = input &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
