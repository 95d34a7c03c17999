import AllotCore
import AllotReview
import ArgumentParser
import Foundation

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show exactly what a change does to live units: who is enrolled, moved, un-enrolled, and whose answers change.",
        discussion: """
            OLD and NEW are each a bundle file, an experiments directory, or a git revision of the \
            repository holding --experiments (prefix with bundle:, dir: or rev: to force one reading). \
            A revision is compiled from its own experiments directory and allot.lock. NEW defaults to \
            the --experiments directory. Shares are exact (from bucket tables and variant runs, no \
            sampling); see docs/review.md. Exit status (docs/cli.md): 0, or 1 with --fail-on-reassign \
            when enrolled units would move without acknowledgement, 2 when a side cannot be read or \
            compiled, 4 when --output cannot be written, 64 usage error.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, markdown, json
    }

    @Argument(help: ArgumentHelp("Before: a bundle, an experiments directory or a git revision.", valueName: "old"))
    var old: String

    @Argument(help: ArgumentHelp("After (default: the --experiments directory).", valueName: "new"))
    var new: String?

    @Option(name: .long, help: ArgumentHelp("The experiments directory (revisions are read from its repository).", valueName: "dir"))
    var experiments = "experiments"

    @OptionGroup var trust: OptionalTrustedKeyOptions

    @Option(name: .long, help: "Output format: text, markdown (a pull-request comment) or json.")
    var format: Format = .text

    @Option(name: .long, help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(
        name: .long,
        help: "Exit 1 if units enrolled in a running experiment would be moved or un-enrolled without `acknowledge: [reassignment]`.")
    var failOnReassign = false

    @Option(
        name: .long,
        help: ArgumentHelp("Evaluate start and stop times at this time, \(TimeArgument.help) (default: now).", valueName: "time"),
        transform: TimeArgument.parse)
    var at: Int64?

    func run() throws {
        let time = at ?? TimeArgument.now
        let inputs = [ReviewInput(old), new.map(ReviewInput.init) ?? .directory(experiments)]
        var keys: [PublicKey] = []
        if inputs.contains(where: \.isBundle) {
            do {
                keys = try trust.load(required: true)
            } catch let failure as CommandFailure {
                throw failure
            }
        }
        let snapshots: [ReviewSnapshot]
        do {
            snapshots = try inputs.map { input throws(ReviewError) in try input.snapshot(experiments: experiments, trustedKeys: keys) }
        } catch {
            if let details = error.details { Terminal.error(details) }
            throw CommandFailure(message: error.message, status: .invalidInput)
        }
        let report = BundleDiff.compare(old: snapshots[0], new: snapshots[1], at: time)
        let text: String
        switch format {
        case .text: text = TextReport.render(report)
        case .markdown: text = MarkdownReport.render(report)
        case .json: text = JSONReport.render(report)
        }
        if let output {
            do {
                try FileIO.writeAtomically(Array(text.utf8), to: output)
            } catch {
                throw CommandFailure(message: "cannot write \(output): \(error)", status: .unavailable)
            }
            let s = report.summary
            Terminal.error(
                "wrote \(output): \(s.experimentsAdded) added, \(s.experimentsRemoved) removed, \(s.experimentsChanged) changed, "
                    + "\(s.experimentsAffected) affected; enrolled units move in \(Plural.count(s.reassigning, "experiment")) (\(s.unacknowledged) unacknowledged)"
            )
        } else {
            Terminal.print(text)
        }
        let blocking = report.reassignments.filter { !$0.acknowledged }
        if failOnReassign, !blocking.isEmpty {
            let names = blocking.map(\.experiment).joined(separator: ", ")
            // One place per change: a holdout that grew is acknowledged once, on the holdout.
            var owners: [String] = []
            for owner in blocking.flatMap(\.acknowledgeOn) where !owners.contains(owner) { owners.append(owner) }
            throw CommandFailure(
                message: "enrolled units would move or be un-enrolled without acknowledgement (--fail-on-reassign): \(names); "
                    + "if intended, add `acknowledge: [reassignment]` to \(owners.joined(separator: ", "))",
                status: .wouldChange)
        }
    }
}
