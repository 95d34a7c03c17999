import AllotCore
import ArgumentParser
import Foundation

/// `--signing-key FILE`, falling back to the `ALLOT_SIGNING_KEY` environment variable.
struct SigningKeyOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Secret key file from `allot keygen` (or set ALLOT_SIGNING_KEY to its contents).", valueName: "file"))
    var signingKey: String?

    /// Whether a key was given, by flag or by a non-empty environment variable (a CI secret that
    /// is not set arrives as an empty variable).
    var isGiven: Bool {
        signingKey != nil || !(ProcessInfo.processInfo.environment[SigningKey.environmentVariable] ?? "").isEmpty
    }

    func load() throws -> SigningKey {
        if let path = signingKey {
            let text = try KeyFile.read(path, what: "signing key file")
            do {
                return try SigningKey(text: text)
            } catch {
                throw CommandFailure(message: "\(path): \(error)", status: .invalidInput)
            }
        }
        if let text = ProcessInfo.processInfo.environment[SigningKey.environmentVariable], !text.isEmpty {
            do {
                return try SigningKey(text: text)
            } catch {
                throw CommandFailure(message: "\(SigningKey.environmentVariable): \(error)", status: .invalidInput)
            }
        }
        throw CommandFailure(
            message:
                "no signing key: pass --signing-key FILE or set \(SigningKey.environmentVariable) (make a key with `allot keygen --out DIR`)",
            status: .usage)
    }
}

/// `--trusted-key PUB`, repeatable and required: the public keys whose signatures are accepted.
struct TrustedKeyOptions: ParsableArguments {
    @Option(
        name: .long, help: ArgumentHelp("Public key file trusted to sign bundles and manifests (repeat for rotation).", valueName: "file"))
    var trustedKey: [String]

    func load() throws -> [PublicKey] { try TrustedKeys.load(trustedKey) }

    /// The bundle file at `path`, verified against the trusted keys; an invalid one is a
    /// `CommandFailure` naming the file, the reason and its code (exit status 65).
    func loadBundle(_ path: String) throws -> LoadedBundle {
        let keys = try load()
        do {
            return try LoadedBundle.load(path: path, trustedKeys: keys)
        } catch {
            throw CommandFailure(message: "\(path) is not valid: \(error.message) [\(error.code.rawValue)]", status: .invalidInput)
        }
    }
}

/// `--trusted-key PUB` for commands that need a key only for some inputs (`diff` of bundle files)
/// or fall back to another (`serve`'s development key).
struct OptionalTrustedKeyOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Public key file trusted to sign bundles and manifests (repeat for rotation).", valueName: "file"))
    var trustedKey: [String] = []

    /// The keys; with `required` an empty list is an error naming the flag.
    func load(required: Bool) throws -> [PublicKey] {
        guard !trustedKey.isEmpty || !required else {
            throw CommandFailure(message: "pass at least one --trusted-key FILE (the .pub file from `allot keygen`)", status: .usage)
        }
        return try TrustedKeys.load(trustedKey)
    }
}

/// Reads public key files.
enum TrustedKeys {
    static func load(_ paths: [String]) throws -> [PublicKey] {
        try paths.map { path in
            let text = try KeyFile.read(path, what: "trusted key file")
            do {
                return try PublicKey(text: text)
            } catch {
                throw CommandFailure(message: "\(path): \(error)", status: .invalidInput)
            }
        }
    }
}

/// Key files are one line of text: read at most `limit` bytes, so a path to something endless
/// (a device, a pipe, a huge file given by mistake) is refused instead of read.
enum KeyFile {
    static let limit = 64 * 1024

    static func read(_ path: String, what: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CommandFailure(message: "cannot read \(what) '\(path)'", status: .invalidInput)
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: limit + 1) ?? Data()
        } catch {
            throw CommandFailure(message: "cannot read \(what) '\(path)': \(error)", status: .invalidInput)
        }
        guard data.count <= limit else {
            throw CommandFailure(message: "\(what) '\(path)' is larger than \(limit / 1024) KiB: not a key file", status: .invalidInput)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure(message: "\(what) '\(path)' is not UTF-8 text: not a key file", status: .invalidInput)
        }
        return text
    }
}
