import ArgumentParser

@main
struct Allot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Geo-distributed A/B testing from signed, compiled bundles.",
        subcommands: [PublishCommand.self, StatusCommand.self])
}
