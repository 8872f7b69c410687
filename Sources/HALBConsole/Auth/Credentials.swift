import Crypto
import HummingbirdBcrypt

/// Password hashes and tokens.
///
/// Passwords are stored as bcrypt hashes (salted, cost 11: about a tenth of a second per check on one core), so a
/// stolen store does not give them away cheaply. Tokens are `halb_<id>.<secret>`: the id finds the row, and the
/// secret (32 random bytes) is stored as its SHA-256, which is enough for a random secret and cheap per request.
enum Credentials {
    static let bcryptCost: UInt8 = 11

    static func hashPassword(_ password: String) -> String {
        Bcrypt.hash(password, cost: Self.bcryptCost)
    }

    static func verifyPassword(_ password: String, hash: String) -> Bool {
        Bcrypt.verify(password, hash: hash)
    }

    /// A hash no password matches, checked for unknown users so they cost the same time as known ones.
    static let unknownUserHash = Bcrypt.hash(Self.randomHex(bytes: 32), cost: Self.bcryptCost)

    /// A new token: its id, its secret, and the text the client sends.
    static func newToken() -> (id: String, secret: String, token: String) {
        let id = Self.randomHex(bytes: 8)
        let secret = Self.randomHex(bytes: 32)
        return (id, secret, "halb_\(id).\(secret)")
    }

    /// The id and secret of a token's text, if it has the shape of one.
    static func parseToken(_ token: String) -> (id: String, secret: String)? {
        guard token.hasPrefix("halb_"), token.utf8.count <= 200 else { return nil }
        let parts = token.dropFirst(5).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    static func hashSecret(_ secret: String) -> String {
        Self.hex(SHA256.hash(data: Array(secret.utf8)))
    }

    /// Compares in constant time, so the answer time does not reveal how much of a guess was right.
    static func secret(_ secret: String, matches hash: String) -> Bool {
        let computed = Array(Self.hashSecret(secret).utf8)
        let stored = Array(hash.utf8)
        guard computed.count == stored.count else { return false }
        return zip(computed, stored).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A password for the first admin: 20 characters from an alphabet without look-alikes.
    static func newPassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Self.hex((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    private static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }.joined()
    }
}
