import AllotCompiler
import ArgumentParser
import Foundation

@main
struct Allot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allot",
        abstract: "Experiments as code: compile, sign, publish and serve A/B test assignments.",
        discussion: """
            Experiment files in experiments/ compile to a signed, zstd-compressed bundle that \
            stateless servers memory-map to answer "which variant is this unit in?". Exit \
            statuses are the same for every command: 0 success, 1 the check found what it \
            checks for (a lock or units that would change, warnings with --strict, regions that \
            disagree), 2 invalid input, 3 refused, 4 a store or the file system failed, 64 usage \
            (docs/cli.md). `allot --version` prints the version, the commit the build was made \
            from, and the bundle and manifest formats it reads and writes.
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
            AnalyzeCommand.self,
        ]
    )

    /// "Unknown option" → "unknown option"; a word that is not plainly capitalised (a flag, a
    /// quoted value, an acronym) stays as it is.
    static func lowercasedFirstWord(_ text: Substring) -> String {
        let word = text.prefix { $0.isLetter }
        guard word.count > 1, word.first!.isUppercase, word.dropFirst().allSatisfy(\.isLowercase) else { return String(text) }
        return word.lowercased() + text.dropFirst(word.count)
    }

    static var commandNames: [String] { configuration.subcommands.compactMap { $0.configuration.commandName } }

    /// Runs the chosen command. Every failure ends the same way: `error: …` on standard error and
    /// a status from `ExitStatus` (argument errors included, with the usage line).
    static func main() async {
        // Handled here rather than through the configuration's `version`, which would also list a
        // `--version` flag in every subcommand's help, beside `allot compile --version <version>`.
        if CommandLine.arguments.dropFirst() == ["--version"] {
            print(AllotVersion.text)
            return
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-"), first != "help", !commandNames.contains(first) {
            let hint = closestMatch(to: first, in: commandNames).map { "did you mean '\($0)'? " } ?? ""
            Terminal.error("error: '\(first)' is not an allot command; \(hint)the commands are \(commandNames.joined(separator: ", "))")
            Terminal.error("  See 'allot --help' for what each does.")
            Foundation.exit(ExitStatus.usage.code)
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            if !failure.message.isEmpty { Terminal.error("error: \(failure.message)") }
            Foundation.exit(failure.status.code)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                // --help and --version: standard output, status 0.
                if !message.isEmpty { Terminal.print(message) }
                Foundation.exit(0)
            }
            // The argument parser's errors ("Error: Unknown option …") in the style of every other
            // error ("error: unknown option …").
            Terminal.error(message.hasPrefix("Error: ") ? "error: " + lowercasedFirstWord(message.dropFirst("Error: ".count)) : message)
            Foundation.exit(code == .validationFailure ? ExitStatus.usage.code : code.rawValue)
        }
    }
}
