import Foundation
import PackagePlugin

/// Embeds the files under a target's `Web/` directory (the console's web page) into the target as one generated
/// Swift source, `WebPageFiles.swift`, so the binary serves the page without files to install next to it.
@main
struct EmbedWebPage: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let web = target.directoryURL.appending(path: "Web")
        let output = context.pluginWorkDirectoryURL.appending(path: "WebPageFiles.swift")
        var inputs: [URL] = []
        if let files = FileManager.default.enumerator(at: web, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let file as URL in files
            where (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                inputs.append(file)
            }
        }
        return [
            .buildCommand(
                displayName: "Embedding the web page of \(target.name)",
                executable: try context.tool(named: "halb-embed-web").url,
                arguments: [web.path, output.path],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
