import AllotCompiler
import ArgumentParser

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print a JSON Schema of the experiment file kinds, for editor validation and completion.")

    func run() throws {
        Terminal.print(ExperimentSchema.jsonSchema())
    }
}
