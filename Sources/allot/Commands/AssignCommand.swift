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

    @OptionGroup var output: TextOrJSONFormat

    func validate() throws {
        if batch != nil && (!units.isEmpty || !attributes.isEmpty) {
            throw ValidationError("--batch cannot be combined with --unit or --attr")
        }
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
        let input: FileHandle
        if path == "-" {
            input = FileHandle.standardInput
        } else {
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw CommandFailure(message: "cannot read batch file '\(path)'", status: .invalidInput)
            }
            input = handle
        }
        var request = EvaluationInput(for: loaded)
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(loaded.payload.layerCount)
        var output: [UInt8] = []
        output.reserveCapacity(1 << 20)
        var pending: [UInt8] = []
        var lineNumber = 0
        var failures = 0
        func flush() {
            output.withUnsafeBytes { FileHandle.standardOutput.write(Data($0)) }
            output.removeAll(keepingCapacity: true)
        }
        func process(_ line: UnsafeRawBufferPointer) {
            lineNumber += 1
            var line = line
            if line.last == UInt8(ascii: "\r") { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
            do {
                try request.setJSON(line, bundle: loaded)
                loaded.evaluate(request, now: now, into: &outcomes)
                loaded.writeAnswer(outcomes, input: request, into: &output)
            } catch {
                failures += 1
                output.append(
                    contentsOf:
                        "{\"error\":{\"code\":\"\(error.code.rawValue)\",\"message\":\(JSONString.quoted(error.message)),\"line\":\(lineNumber)}}"
                        .utf8)
            }
            output.append(UInt8(ascii: "\n"))
            if output.count > (1 << 20) - 4096 { flush() }
        }
        while true {
            let chunk = input.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            var start = 0
            pending.withUnsafeBytes { bytes in
                var index = 0
                while let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = UnsafeRawBufferPointer(rebasing: bytes[start..<newline])
                    if !line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { process(line) } else { lineNumber += 1 }
                    start = newline + 1
                    index = start
                }
            }
            pending.removeFirst(start)
        }
        if !pending.isEmpty, !pending.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) {
            pending.withUnsafeBytes { process($0) }
        }
        flush()
        if failures > 0 {
            throw CommandFailure(
                message: "\(failures) of \(Plural.count(lineNumber, "request")) could not be evaluated (see their error lines)",
                status: .invalidInput)
        }
    }
}
