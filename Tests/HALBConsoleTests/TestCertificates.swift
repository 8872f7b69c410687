import Foundation

/// Whether openssl, which makes the test certificates, is installed.
let opensslIsInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

/// A self-signed EC certificate for `CN=name`, valid 2 days, and its key, as PEM text, made by openssl.
func selfSignedCertificate(_ name: String) throws -> (certificate: String, key: String) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("halb-pem-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let certificate = directory.appendingPathComponent("\(name).pem")
    let key = directory.appendingPathComponent("\(name).key")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.path,
        "-out", certificate.path, "-days", "2", "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return (try String(contentsOf: certificate, encoding: .utf8), try String(contentsOf: key, encoding: .utf8))
}
