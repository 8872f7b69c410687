import Foundation
import Testing

/// A self-signed EC P-256 certificate for `CN=name`, valid for 2 days from now, and its key, made by openssl in
/// `directory`: the paths of the certificate and the key.
func makeTestCertificate(_ name: String, in directory: URL) throws -> (certificate: String, key: String) {
    let certificate = directory.appendingPathComponent("\(name).pem").path
    let key = directory.appendingPathComponent("\(name).key").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
        "-out", certificate, "-days", "2", "-subj", "/CN=\(name)",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return (certificate, key)
}
