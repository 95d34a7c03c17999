import AllotTestSupport
import Foundation
import Testing

/// Runs the built `allot` binary (`ALLOT_BINARY`, or `.build/debug/allot`).
enum CLI {
    static let root = Repository.root

    typealias Result = ProcessResult

    /// Runs `allot` (without the caller's `ALLOT_SIGNING_KEY`, so tests choose their keys).
    @discardableResult
    static func run(_ arguments: [String], in directory: URL? = nil, stdin: Data? = nil, environment: [String: String] = [:]) async throws
        -> Result
    {
        guard AllotBinary.available else { throw CLIError(message: AllotBinary.missing) }
        return try await runProcess(
            AllotBinary.path, arguments, environment: environment, removing: ["ALLOT_SIGNING_KEY"], directory: directory?.path, stdin: stdin
        )
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        URL(fileURLWithPath: Scratch.folder("cli"))
    }

    /// Copies the repository's sample experiments into `directory/experiments`.
    static func copySamples(to directory: URL) throws {
        try FileManager.default.copyItem(
            at: root.appendingPathComponent("experiments"), to: directory.appendingPathComponent("experiments"))
    }
}

struct CLIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
