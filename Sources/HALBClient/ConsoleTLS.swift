import AsyncHTTPClient
import HALBAgent
import NIOSSL

/// HTTPS to the console (devices and admin commands): the CA bundle a client trusts the console by.
public enum ConsoleTLS {
    /// An HTTP client for the console, which the caller shuts down when done: with `caFile`, one that trusts only
    /// the CA certificates in that PEM file, else the system's trust store. It connects within
    /// ``ConnectionFailure/connectTimeout`` and does not retry a failed connect, so a refused connection fails at
    /// once and a wrong CA within seconds, with the reason.
    public static func client(trusting caFile: String?) throws -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if let caFile {
            do {
                _ = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw ClientError("\(caFile): not a readable PEM file of CA certificates (\(error))")
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            tls.minimumTLSVersion = .tlsv12
            configuration.tlsConfiguration = tls
        }
        return ConnectionFailure.makeClient(configuration: configuration)
    }
}
