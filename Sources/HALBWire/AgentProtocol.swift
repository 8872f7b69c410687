import Crypto

/// The bodies of the console's agent API (`/agent/v1`) and how its configurations are signed and their certificate
/// keys sealed, declared once for the console and the device.

/// `POST /agent/v1/enrol`: a one-time join token for a device of a site.
public struct EnrolmentRequest: Sendable, Codable, Hashable {
    public var joinToken: String
    public var device: String

    public init(joinToken: String, device: String) {
        self.joinToken = joinToken
        self.device = device
    }
}

/// What a device gets when it enrols: its credential and the key its configurations are signed with. Shown once.
public struct Enrolment: Sendable, Codable, Hashable {
    public var site: String
    public var device: String
    public var credential: String
    public var signingKey: String

    public init(site: String, device: String, credential: String, signingKey: String) {
        self.site = site
        self.device = device
        self.credential = credential
        self.signingKey = signingKey
    }
}

/// What `GET /agent/v1/config` answers a device: its part of the site and the certificates it uses. The body is
/// signed (``AgentSigning``).
public struct AgentConfiguration: Sendable, Codable, Hashable {
    public var version: Int
    /// The site file (YAML), only with the virtual servers of the device.
    public var site: String
    /// The certificates its `managedCertificate`s name, keys sealed for the device.
    public var certificates: [DeliveredCertificate]

    public init(version: Int, site: String, certificates: [DeliveredCertificate] = []) {
        self.version = version
        self.site = site
        self.certificates = certificates
    }
}

/// A certificate and its private key as a device receives them with its configuration: the key sealed (AES-GCM,
/// the certificate's name authenticated) with ``AgentSigning/deliveryKey(signingKey:)``, so it does not cross the
/// network in clear even over HTTP.
public struct DeliveredCertificate: Sendable, Codable, Hashable {
    public var name: String
    /// The chain, PEM.
    public var certificate: String
    /// The private key (PEM) sealed for the device: base64 of AES-GCM's nonce, ciphertext and tag.
    public var privateKey: String

    public init(name: String, certificate: String, privateKey: String) {
        self.name = name
        self.certificate = certificate
        self.privateKey = privateKey
    }
}

/// `POST /agent/v1/ack`: a version applied (ACK, no error) or refused (NACK, with why).
public struct Acknowledgement: Sendable, Codable, Hashable {
    public var version: Int
    public var error: String?

    public init(version: Int, error: String? = nil) {
        self.version = version
        self.error = error
    }
}

/// How a device knows a configuration comes from its console, and opens the certificate keys sent with it.
public enum AgentSigning {
    /// The header that carries a configuration's signature.
    public static let header = "X-HALB-Signature"

    /// HMAC-SHA256 of `body` with the device's signing key, hex.
    public static func signature(of body: String, key: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(key.utf8)))
        return mac.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Whether `signature` is `body`'s, compared in constant time.
    public static func verify(_ signature: String, of body: String, key: String) -> Bool {
        let expected = Array(Self.signature(of: body, key: key).utf8)
        let given = Array(signature.utf8)
        guard expected.count == given.count else { return false }
        return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// The key certificates' private keys are sealed with for a device: HKDF-SHA256 of its signing key.
    public static func deliveryKey(signingKey: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(signingKey.utf8)),
            info: Array("halb certificate delivery v1".utf8),
            outputByteCount: 32
        )
    }
}
