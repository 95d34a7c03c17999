public import Foundation

/// What a finished program printed and how it exited.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Both streams, standard output first (for failure messages).
    public var output: String { stdout + stderr }
}

/// Runs a program to completion. The environment is this process's, minus `removing`, plus
/// `environment`; `stdin` (if any) is written to its standard input, which is then closed. Output
/// goes to files, so neither stream can fill a pipe and stall the child.
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], removing: [String] = [],
    directory: String? = nil, stdin: Data? = nil
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    var variables = ProcessInfo.processInfo.environment
    for key in removing { variables.removeValue(forKey: key) }
    process.environment = variables.merging(environment) { $1 }
    let outPath = NSTemporaryDirectory() + "allot-run-out-\(UUID().uuidString)"
    let errPath = NSTemporaryDirectory() + "allot-run-err-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
    }
    let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardOutput = outHandle
    process.standardError = errHandle
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(stdin)
        try input.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    process.waitUntilExit()
    try outHandle.close()
    try errHandle.close()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
        stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
}

/// The first executable called `name` on PATH.
public func which(_ name: String) -> String? {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// Scratch folders and files for tests.
public enum Scratch {
    /// A new empty folder under the system's temporary folder, named after `label`.
    public static func folder(_ label: String) -> String {
        let path = NSTemporaryDirectory() + "allot-\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    public static func read(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    public static func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
}

/// The `allot` binary under test: `ALLOT_BINARY` (scripts/test sets it), or `.build/debug/allot`.
public enum AllotBinary {
    public static var path: String {
        ProcessInfo.processInfo.environment["ALLOT_BINARY"] ?? Repository.root.appendingPathComponent(".build/debug/allot").path
    }
    public static var available: Bool { FileManager.default.isExecutableFile(atPath: path) }
    public static let missing = "no allot binary at \(path): run `swift build` first (scripts/test does), or set ALLOT_BINARY"
}

/// `runProcess` for long-running programs in async tests: waits for the exit without holding a thread
/// of the cooperative pool (a blocked pool starves every other test of the run). Output goes to a
/// file, both streams together.
public func runProcessAsync(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], directory: String? = nil
) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let outputPath = NSTemporaryDirectory() + "allot-run-async-\(UUID().uuidString)"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outputPath) }
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    defer { try? output.close() }
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
}
