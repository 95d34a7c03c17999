import ArgumentParser
import Foundation

@main
struct Allot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allot",
        abstract: "Experiments as code: compile, sign, publish and serve A/B test assignments.",
        discussion: """
            Experiment files in experiments/ compile to a signed, zstd-compressed bundle that \
            stateless servers memory-map to answer "which variant is this unit in?". \
            `allot --version` prints the version and the commit the build was made from.
            """,
        subcommands: [
            KeygenCommand.self,
            CompileCommand.self,
            VerifyCommand.self,
            InspectCommand.self,
            AssignCommand.self,
            SchemaCommand.self,
            PublishCommand.self,
            StatusCommand.self,
            DiffCommand.self,
            LintCommand.self,
            ServeCommand.self,
        ]
    )

    /// Runs the chosen command; a `CommandFailure` prints `error: …` and exits with its status.
    static func main() async {
        // Handled here rather than through the configuration's `version`, which would also list a
        // `--version` flag in every subcommand's help, beside `allot compile --version <version>`.
        if CommandLine.arguments.dropFirst() == ["--version"] {
            print(AllotVersion.description)
            return
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            Terminal.error("error: \(failure.message)")
            Foundation.exit(failure.status)
        } catch {
            exit(withError: error)
        }
    }
}
