import Foundation
import Testing

/// `halb appliance configure` as the appliance's first boot runs it: answers on standard input (the wizard on tty1)
/// or a seed directory, and the files it writes under --root.
@Suite struct ApplianceCommandTests {
    /// Runs `halb appliance configure ARGUMENTS --root ROOT` with `input` on its standard input; its exit status and
    /// what it printed (standard output and error together).
    private func configure(_ arguments: [String], root: URL, input: String = "") throws -> (Int32, String) {
        let process = Process()
        process.executableURL = try halbExecutable()
        process.arguments = ["appliance", "configure"] + arguments + ["--root", root.path]
        let stdin = Pipe()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("halb-out-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let handle = try FileHandle(forWritingTo: output)
        process.standardInput = stdin
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }

    private func files(under root: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(
                atPath: root.appendingPathComponent(path).path,
                isDirectory: &isDirectory
            ),
                !isDirectory.boolValue
            {
                found.append(path)
            }
        }
        return found.sorted()
    }

    @Test func theWizardAsksAgainAfterABadAnswerAndWritesWhatWasConfirmed() throws {
        let root = try TemporaryDirectory()
        let answers = [
            "lb9",
            "192.0.2.300/24",  // refused: asked again
            "192.0.2.19/24",
            "192.0.2.1",
            "192.0.2.53",
            "https://192.0.2.2:8443",
            "57:D4:D4:30:A5:C1:66:4F:16:7B:DB:1C:01:40:7C:19:87:EA:28:4A:ED:0D:37:A1:03:5B:F5:CE:36:C7:B5:FB",
            "halb_join_secret",
            "",  // the device name: the default, the host name
            "y",
        ]
        let (status, output) = try self.configure(
            ["--wizard"],
            root: root.url,
            input: answers.joined(separator: "\n") + "\n"
        )

        #expect(status == 0, "\(output)")
        #expect(output.contains("192.0.2.300/24"), "the refusal names the value: \(output)")
        #expect(!output.contains("halb_join_secret"), "the token is not shown: \(output)")
        let deviceConf = try String(
            contentsOf: root.url.appendingPathComponent("etc/halb/device.conf"),
            encoding: .utf8
        )
        #expect(deviceConf.contains("HALB_NAME=lb9\n"))
        #expect(deviceConf.contains("HALB_CONSOLE=https://192.0.2.2:8443\n"))
        #expect(
            deviceConf.contains(
                "HALB_CONSOLE_CA_SHA256=57d4d430a5c1664f167bdb1c01407c1987ea284aed0d37a1035bf5ce36c7b5fb\n"
            )
        )
        let network = try String(
            contentsOf: root.url.appendingPathComponent("etc/systemd/network/10-halb.network"),
            encoding: .utf8
        )
        #expect(network.contains("Address=192.0.2.19/24\n") && network.contains("Gateway=192.0.2.1\n"))
        let token = root.url.appendingPathComponent("etc/halb/join-token").path
        #expect(try String(contentsOfFile: token, encoding: .utf8) == "halb_join_secret\n")
        let mode = try FileManager.default.attributesOfItem(atPath: token)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(
            FileManager.default.fileExists(
                atPath: root.url.appendingPathComponent("var/lib/halb-appliance/configured").path
            )
        )
    }

    @Test func theWizardWritesNothingWhenItsInputEndsOrItIsNotConfirmed() throws {
        let ended = try TemporaryDirectory()
        let (endedStatus, endedOutput) = try self.configure(["--wizard"], root: ended.url, input: "lb9\ndhcp\n")
        #expect(endedStatus != 0, "\(endedOutput)")
        #expect(self.files(under: ended.url).isEmpty)

        let declined = try TemporaryDirectory()
        let answers = "lb9\ndhcp\nhttp://192.0.2.2:8080\nhalb_join_x\n\nn\n"
        let (declinedStatus, declinedOutput) = try self.configure(["--wizard"], root: declined.url, input: answers)
        #expect(declinedStatus != 0, "\(declinedOutput)")
        #expect(self.files(under: declined.url).isEmpty)
    }

    @Test func aSeedWithABadSettingWritesNothingAndNamesIt() throws {
        let seed = try TemporaryDirectory()
        _ = try seed.write("meta-data", "instance-id: lb1\nlocal-hostname: lb1\n")
        _ = try seed.write(
            "user-data",
            "#cloud-config\nhalb:\n  address: 192.0.2.11/24\n  gateway: 198.51.100.1\n  console: https://192.0.2.2:8443\n"
                + "  console_ca_sha256: \"57d4d430a5c1664f167bdb1c01407c1987ea284aed0d37a1035bf5ce36c7b5fb\"\n"
                + "  join_token: halb_join_x\n"
        )
        let root = try TemporaryDirectory()
        let (status, output) = try self.configure(["--nocloud", seed.url.path], root: root.url)

        #expect(status != 0)
        #expect(output.contains("gateway") && output.contains("198.51.100.1"), "\(output)")
        #expect(output.contains("nothing written"), "\(output)")
        #expect(self.files(under: root.url).isEmpty)
    }
}
