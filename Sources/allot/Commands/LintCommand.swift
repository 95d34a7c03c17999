import AllotCompiler
import AllotCore
import AllotReview
import ArgumentParser
import Foundation

struct LintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Warn about experiments that compile but are probably mistakes.",
        discussion: """
            Running experiments past their stop time, targeting that can never match, empty \
            segments, experiments at 0% traffic, variants that set the same parameters, layers \
            nearly full. Warnings are printed like compiler diagnostics. Exit status (docs/cli.md): \
            0 (also with warnings, unless --strict), 1 with --strict when there are warnings, 2 \
            when the experiments do not compile, 64 usage error.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, github
    }

    @Option(name: .long, help: ArgumentHelp("Directory of experiment files.", valueName: "dir"))
    var experiments = "experiments"

    @Option(
        name: .long, help: ArgumentHelp("Compare stop times with this time, \(TimeArgument.help) (default: now).", valueName: "time"),
        transform: TimeArgument.parse)
    var at: Int64?

    @Option(name: .long, help: ArgumentHelp("Warn when a layer is at least this full (default: 90%).", valueName: "percent"))
    var layerFullThreshold = "90%"

    @Flag(name: .long, help: "Exit 1 when there is any warning.")
    var strict = false

    @Option(name: .long, help: "Output format: text, or github (workflow annotations).")
    var format: Format = .text

    func run() throws {
        let time = at ?? TimeArgument.now
        guard let threshold = Self.basisPoints(layerFullThreshold) else {
            throw CommandFailure(
                message: "--layer-full-threshold '\(layerFullThreshold)' is not a percentage between 0% and 100%", status: .usage)
        }
        let output: Compiler.Output
        switch Compiler.compile(directory: experiments, version: 0, createdAt: 0) {
        case .success(let compiled): output = compiled
        case .failure(let failure):
            Terminal.error(failure.rendered)
            let errors = failure.diagnostics.filter { $0.severity == .error }.count
            throw CommandFailure(message: "\(Plural.count(errors, "error")); fix them before linting", status: .invalidInput)
        }
        let warnings = Linter.lint(output, options: Linter.Options(at: time, layerFullThreshold: threshold))
        if !warnings.isEmpty {
            switch format {
            case .text: Terminal.print(DiagnosticRenderer(sources: output.sources).render(warnings))
            case .github: Terminal.print(Linter.githubAnnotations(warnings))
            }
        }
        Terminal.error(Plural.count(warnings.count, "warning"))
        if strict, !warnings.isEmpty {
            throw CommandFailure(message: "lint warnings (--strict)", status: .wouldChange)
        }
    }

    /// "90%", "90" or "87.5%" as basis points.
    static func basisPoints(_ text: String) -> Int? {
        let number = text.hasSuffix("%") ? String(text.dropLast()) : text
        guard let value = Double(number), value >= 0, value <= 100 else { return nil }
        return Int((value * 100).rounded())
    }
}
