import Foundation
import Testing

/// Runs the built `allot` binary (`ALLOT_BINARY`, or `.build/debug/allot`).
enum CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        ProcessInfo.processInfo.environment["ALLOT_BINARY"] ?? root.appendingPathComponent(".build/debug/allot").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    static func run(_ arguments: [String], in directory: URL? = nil, stdin: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw CLIError(message: "no allot binary at \(binary): run `swift build` first (scripts/test does)")
        }
        return try runProcess(binary, arguments, in: directory, stdin: stdin, environment: environment)
    }

    static func runProcess(_ executable: String, _ arguments: [String], in directory: URL? = nil, stdin: Data? = nil,
                           environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "ALLOT_SIGNING_KEY")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        // Output goes to files, so neither stream can fill a pipe and stall the child.
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("allot-out-\(UUID().uuidString)")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("allot-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        process.standardOutput = outHandle
        process.standardError = errHandle
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        let outData = try Data(contentsOf: outURL)
        let errData = try Data(contentsOf: errURL)
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("allot-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Copies the repository's sample experiments into `directory/experiments`.
    static func copySamples(to directory: URL) throws {
        try FileManager.default.copyItem(at: root.appendingPathComponent("experiments"), to: directory.appendingPathComponent("experiments"))
    }
}

struct CLIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
