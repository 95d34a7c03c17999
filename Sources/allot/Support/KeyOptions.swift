import AllotCore
import ArgumentParser
import Foundation

/// `--signing-key FILE`, falling back to the `ALLOT_SIGNING_KEY` environment variable.
struct SigningKeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Secret key file from `allot keygen` (or set ALLOT_SIGNING_KEY to its contents).", valueName: "file"))
    var signingKey: String?

    /// Whether a key was given, by flag or by a non-empty environment variable (a CI secret that
    /// is not set arrives as an empty variable).
    var isGiven: Bool {
        signingKey != nil || !(ProcessInfo.processInfo.environment[SigningKey.environmentVariable] ?? "").isEmpty
    }

    func load() throws -> SigningKey {
        if let path = signingKey {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CommandFailure(message: "cannot read signing key file '\(path)'")
            }
            do {
                return try SigningKey(text: text)
            } catch {
                throw CommandFailure(message: "\(path): \(error)")
            }
        }
        if let text = ProcessInfo.processInfo.environment[SigningKey.environmentVariable], !text.isEmpty {
            do {
                return try SigningKey(text: text)
            } catch {
                throw CommandFailure(message: "\(SigningKey.environmentVariable): \(error)")
            }
        }
        throw CommandFailure(
            message: "no signing key: pass --signing-key FILE or set \(SigningKey.environmentVariable) (make a key with `allot keygen --out DIR`)")
    }
}

/// `--trusted-key PUB`, repeatable: the public keys whose signatures are accepted.
struct TrustedKeyOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Public key file trusted to sign bundles and manifests (repeat for rotation).", valueName: "file"))
    var trustedKey: [String] = []

    /// The keys; with `required: false` an empty list is allowed (signatures then go unchecked).
    func load(required: Bool = true) throws -> [PublicKey] {
        guard !trustedKey.isEmpty || !required else { throw CommandFailure(message: "pass at least one --trusted-key FILE (the .pub file from `allot keygen`)") }
        return try trustedKey.map { path in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CommandFailure(message: "cannot read trusted key file '\(path)'")
            }
            do {
                return try PublicKey(text: text)
            } catch {
                throw CommandFailure(message: "\(path): \(error)")
            }
        }
    }
}
