import Foundation

/// What `halb appliance configure` does once it has read a source: check every setting, and only if all are valid
/// write the files under a root.
public enum ApplianceConfigurator {
    /// Checks `input` and writes the appliance's files under `root`, the ``ApplianceFiles/configuredPath`` mark last.
    ///
    /// - Returns: the files written and those left alone.
    /// - Throws: ``ApplianceError`` with every invalid setting (then nothing is written), or naming the file that
    ///   could not be written (then the mark is not).
    public static func configure(
        _ input: ApplianceInput,
        source: ApplianceSource,
        root: String,
        date: Date = Date()
    ) throws(ApplianceError) -> ApplianceFileWriter.Outcome {
        let settings = try ApplianceSettings(validating: input)
        return try Self.write(settings, source: source, root: root, date: date)
    }

    /// Writes the files of checked `settings` under `root`.
    ///
    /// - Throws: ``ApplianceError`` naming the file that could not be written (then the mark is not).
    public static func write(
        _ settings: ApplianceSettings,
        source: ApplianceSource,
        root: String,
        date: Date = Date()
    ) throws(ApplianceError) -> ApplianceFileWriter.Outcome {
        try ApplianceFileWriter.write(ApplianceFiles.render(settings, source: source, date: date), root: root)
    }
}
