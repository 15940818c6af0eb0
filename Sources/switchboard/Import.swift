import ArgumentParser
import Foundation
import SwitchboardCore

/// `switchboard import`: another gateway's configuration as a Switchboard configuration.
struct ImportConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert another gateway's configuration into a Switchboard configuration.",
        subcommands: [LiteLLM.self]
    )

    struct LiteLLM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "litellm",
            abstract: "Convert a LiteLLM proxy config.yaml; report on stderr what is not carried over, by its key path.",
            discussion: """
                The configuration goes to stdout (or --output); every setting that is not carried over, or only \
                approximately, is reported on stderr with its key path in the LiteLLM file. Keys written as \
                os.environ/NAME become env:NAME references; literal keys are written as they are, and never printed. \
                Exit 0 when a configuration was written (even with notes), 1 when the file cannot be read, is not \
                YAML, or has no model_list. See docs/migrating.md.
                """
        )

        @Argument(help: "The LiteLLM proxy config.yaml.")
        var file: String

        @Option(name: .shortAndLong, help: "Write the Switchboard configuration to this file instead of stdout.")
        var output: String?

        func run() throws {
            let text: String
            do {
                text = try ConfigLoader.readFile(file)
            } catch {
                fail("error: \(error)")
            }
            let result: LiteLLMImportResult
            do {
                result = try LiteLLMImport.convert(yaml: text, environment: ProcessInfo.processInfo.environment)
            } catch {
                report(error.notes)
                fail("error: \(file): \(error.message.replacingOccurrences(of: "\n", with: "\n  "))")
            }
            if let output {
                do {
                    try Data(result.yaml.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
                } catch {
                    fail("error: cannot write \(output): \(error.localizedDescription)")
                }
            } else {
                FileHandle.standardOutput.write(Data(result.yaml.utf8))
            }
            report(result.notes)
            let target = output ?? "the configuration"
            complain("\(file): \(result.providerCount) provider(s), \(result.modelCount) model(s) written to \(output ?? "stdout")")
            if !result.environmentVariables.isEmpty {
                complain("\(target) reads these environment variables: \(result.environmentVariables.joined(separator: ", "))")
            }
            complain("check it with: switchboard check --config \(output ?? "FILE")")
        }

        private func report(_ notes: [LiteLLMImportNote]) {
            guard !notes.isEmpty else { return }
            complain("\(file): \(notes.count) note(s), not carried over or only approximately:")
            for n in notes { complain("  \(n)") }
        }

        private func fail(_ message: String) -> Never {
            complain(message)
            Foundation.exit(1)
        }
    }
}
