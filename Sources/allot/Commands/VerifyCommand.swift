import AllotCore
import ArgumentParser

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a bundle's signature, hash and structure.",
        discussion: "Exit status (docs/cli.md): 0 when the bundle is valid and signed by a trusted key; 2 with the reason otherwise.")

    @Argument(help: ArgumentHelp("The bundle file.", valueName: "bundle"))
    var bundle: String

    @OptionGroup var trust: TrustedKeyOptions

    func run() throws {
        let header = try trust.loadBundle(bundle).header
        Terminal.print(
            "valid: version \(header.version), created-at \(TimeArgument.format(header.createdAt)), key \(header.keyID), "
                + "\(header.envelopeLength) bytes (payload \(header.payloadLength))")
    }
}
