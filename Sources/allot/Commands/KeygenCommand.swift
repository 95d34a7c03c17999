import AllotCore
import ArgumentParser
import Foundation

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create an Ed25519 signing key pair.",
        discussion: """
            Writes NAME.key (secret, mode 0600: keep it in your CI secret store) and NAME.pub \
            (public: give it to servers as --trusted-key). Prints the key id.

            Exit status (docs/cli.md): 0 done; 3 the key files exist (--force replaces them); 4 \
            they cannot be written; 64 usage error.
            """)

    @Option(name: .long, help: ArgumentHelp("Directory to write the key files into.", valueName: "dir"))
    var out: String

    @Option(name: .long, help: "Base name of the key files.")
    var name = "signing"

    @Flag(name: .long, help: "Overwrite existing key files.")
    var force = false

    func run() throws {
        let secretPath = "\(out)/\(name).key"
        let publicPath = "\(out)/\(name).pub"
        if !force {
            for path in [secretPath, publicPath] where FileIO.exists(path) {
                throw CommandFailure(
                    message: "\(path) already exists; pass --force to replace it (servers trusting the old key will reject new bundles)",
                    status: .refused)
            }
        }
        do {
            try FileIO.makeDirectories(out)
            let key = SigningKey.generate()
            try FileIO.writeAtomically(Array(key.fileText.utf8), to: secretPath, mode: 0o600)
            try FileIO.writeAtomically(Array(key.publicKey.fileText.utf8), to: publicPath, mode: 0o644)
            Terminal.print("key id \(key.id)\n  secret: \(secretPath) (mode 0600)\n  public: \(publicPath)")
        } catch {
            throw CommandFailure(message: "cannot write keys: \(error)", status: .unavailable)
        }
    }
}
