import ArgumentParser

/// `--format text|json` for the commands whose report is text or JSON (`status`, `publish`,
/// `inspect`, `assign`): the one output-format flag every command uses (`diff` and `lint` add
/// their own formats). `--json` is kept as an alias of `--format json`.
struct TextOrJSONFormat: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .long, help: "Output format: text or json (default: text).")
    var format: Format?

    @Flag(name: .customLong("json"), help: ArgumentHelp("Same as --format json.", visibility: .hidden))
    var jsonAlias = false

    var isJSON: Bool { jsonAlias || format == .json }

    func validate() throws {
        if jsonAlias, format == .text { throw ValidationError("--json means --format json; it contradicts --format text") }
    }
}
