/// The Internet checksum (RFC 1071): the one's complement of the one's complement sum of 16-bit words.
enum InternetChecksum {
    /// Adds `bytes` to a running sum, as big-endian 16-bit words (an odd last byte is padded with zero). Feed the
    /// parts in order; only the last part may have an odd length.
    static func add(_ bytes: some Sequence<UInt8>, to sum: inout UInt32) {
        var high: UInt8?
        for byte in bytes {
            if let first = high {
                sum &+= UInt32(first) << 8 | UInt32(byte)
                high = nil
            } else {
                high = byte
            }
        }
        if let first = high { sum &+= UInt32(first) << 8 }
    }

    /// Folds the carries into 16 bits and complements: the value for the checksum field.
    static func finish(_ sum: UInt32) -> UInt16 {
        var sum = sum
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        return ~UInt16(truncatingIfNeeded: sum)
    }
}
