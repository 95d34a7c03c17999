import AllotCore
import ArgumentParser
import Foundation

struct AssignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign",
        abstract: "Assign units offline from a bundle, one request or a batch.",
        discussion: """
            The JSON answer is the same document the server returns. Batch mode reads \
            newline-delimited JSON requests ({"units":{...},"attributes":{...}}) and writes one \
            answer per line, in order, so offline analysis can join on line numbers; a line \
            that cannot be parsed gets {"error":{...}} and the exit status becomes 2 (docs/cli.md).
            """)

    @Option(name: .long, help: ArgumentHelp("The bundle file.", valueName: "file"))
    var bundle: String

    @OptionGroup var trust: TrustedKeyOptions

    @Option(name: .customLong("unit"), help: ArgumentHelp("A unit id, e.g. user_id=u1 (repeatable).", valueName: "type=id"))
    var units: [String] = []

    @Option(
        name: .customLong("attr"),
        help: ArgumentHelp("An attribute, e.g. country=US (repeatable; lists comma-separated).", valueName: "name=value"))
    var attributes: [String] = []

    @Option(name: .long, help: ArgumentHelp("Newline-delimited JSON requests; '-' reads standard input.", valueName: "file"))
    var batch: String?

    @Option(
        name: .long, help: ArgumentHelp("Evaluate at this time (\(TimeArgument.help)) instead of now.", valueName: "time"),
        transform: TimeArgument.parse)
    var at: Int64?

    @Option(
        help: ArgumentHelp(
            "Threads answering a --batch (default: one per core available to the process; the output is the same for any number).",
            valueName: "n"))
    var threads: Int?

    @OptionGroup var output: TextOrJSONFormat

    func validate() throws {
        if batch != nil && (!units.isEmpty || !attributes.isEmpty) {
            throw ValidationError("--batch cannot be combined with --unit or --attr")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be in 1...256") }
        if threads != nil && batch == nil { throw ValidationError("--threads applies to --batch only") }
        if batch == nil && units.isEmpty {
            throw ValidationError("give at least one --unit type=id, or --batch FILE")
        }
    }

    func run() throws {
        let loaded = try trust.loadBundle(bundle)
        let now = at ?? TimeArgument.now
        if let batch {
            try runBatch(loaded, path: batch, now: now)
        } else {
            try runSingle(loaded, now: now)
        }
    }

    private func pairs(_ items: [String], _ flag: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw CommandFailure(message: "\(flag) '\(item)' is not name=value", status: .usage)
            }
            result[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }

    private func runSingle(_ loaded: LoadedBundle, now: Int64) throws {
        let unitValues = try pairs(units, "--unit")
        for name in unitValues.keys where loaded.unitTypeIndex(named: name) == nil {
            Terminal.error("warning: unit type '\(name)' is not used by any layer of this bundle; ignored")
        }
        let attributeValues = try pairs(attributes, "--attr")
        for name in attributeValues.keys where loaded.attributeIndex(named: name) == nil {
            Terminal.error("warning: attribute '\(name)' is not declared in this bundle; ignored")
        }
        do {
            if output.isJSON {
                Terminal.print(try loaded.answerJSON(units: unitValues, attributes: attributeValues, now: now))
                return
            }
            var input = EvaluationInput(for: loaded)
            try input.set(units: unitValues, attributes: attributeValues, bundle: loaded)
            var outcomes: [Outcome] = []
            loaded.evaluate(input, now: now, into: &outcomes)
            var lines = ["bundle version \(loaded.version)"]
            if outcomes.isEmpty { lines.append("no experiment holds this unit") }
            for assignment in outcomes.map(loaded.assignment(for:)) {
                lines.append(
                    "  \(assignment.experiment) [layer \(assignment.layer)]: \(assignment.variant ?? "(defaults)") — \(assignment.reason)")
            }
            lines.append("params:")
            for parameter in loaded.parametersByName {
                let outcome = outcomes.first { Int($0.layer) == loaded.parameterLayer(parameter) }
                lines.append("  \(loaded.parameterName(parameter)) = \(loaded.parameterValueJSON(parameter, outcome: outcome))")
            }
            Terminal.print(lines.joined(separator: "\n"))
        } catch {
            // The do block throws only RequestError (typed throws); `catch let e as RequestError`
            // crashes the Swift 6.3.1 compiler here.
            throw CommandFailure(message: error.message, status: .invalidInput)
        }
    }

    private func runBatch(_ loaded: LoadedBundle, path: String, now: Int64) throws {
        let descriptor: Int32
        if path == "-" {
            descriptor = STDIN_FILENO
        } else {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw CommandFailure(
                    message: "cannot read batch file '\(path)': \(String(cString: strerror(errno)))", status: .invalidInput)
            }
        }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }
        let pipeline = BatchPipeline(workers: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let counts = try pipeline.run(
            bundle: loaded, now: now,
            read: { buffer in
                while true {
                    let count = read(descriptor, buffer.baseAddress, buffer.count)
                    if count >= 0 { return count }
                    if errno != EINTR {
                        throw CommandFailure(
                            message: "cannot read batch file '\(path)': \(String(cString: strerror(errno)))", status: .invalidInput)
                    }
                }
            },
            write: { answers in
                var offset = 0
                while offset < answers.count {
                    let count = write(STDOUT_FILENO, answers.baseAddress! + offset, answers.count - offset)
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw CommandFailure(message: "cannot write the answers: \(String(cString: strerror(errno)))", status: .unavailable)
                    }
                    offset += count
                }
            })
        if counts.failures > 0 {
            throw CommandFailure(
                message: "\(counts.failures) of \(Plural.count(counts.lines, "request")) could not be evaluated (see their error lines)",
                status: .invalidInput)
        }
    }
}
