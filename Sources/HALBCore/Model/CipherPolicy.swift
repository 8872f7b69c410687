/// The TLS 1.2 cipher suites an offloading `ssl` payload offers (TLS 1.3 suites are fixed by the TLS library).
public enum CipherPolicy: Sendable, Hashable {
    /// ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only.
    case modern
    /// `modern`, plus ECDHE with AES-CBC (SHA-1 MAC) for older clients.
    case intermediate
    /// These suites, by their OpenSSL names, in order of preference (each one of ``knownSuites``).
    case list([String])

    /// The TLS 1.2 suites a list may name: those the TLS library (BoringSSL) offers with AES or ChaCha20, ECDHE
    /// first, then plain RSA key exchange (no forward secrecy) for old clients.
    public static let knownSuites: [String] = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA",
    ]
}
