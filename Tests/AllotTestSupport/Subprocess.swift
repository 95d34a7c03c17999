public import Foundation

/// What a finished program printed and how it exited.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Both streams, standard output first (for failure messages).
    public var output: String { stdout + stderr }
}

/// Runs a program to completion and waits for it without holding a thread of the cooperative pool:
/// the pool has one thread per core (two here), and a test that blocks one while a child runs
/// starves every in-process server, poller and client of the run (stop 22's CI lost a server start
/// to that). The child is started and waited for on a thread of its own (`onThread`), with
/// `waitUntilExit`; a termination-handler wait was tried and once read a child's output as empty
/// in a full run. The environment is this process's, minus `removing`, plus `environment`;
/// `stdin` (if any) is the child's standard input. Output goes to files, so neither stream can fill
/// a pipe and stall the child.
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], removing: [String] = [],
    directory: String? = nil, stdin: Data? = nil
) async throws -> ProcessResult {
    try await onThread {
        let run = try ProcessRun(executable, arguments, environment: environment, removing: removing, directory: directory, stdin: stdin)
        defer { run.cleanUp() }
        try run.process.run()
        run.process.waitUntilExit()
        return try run.result(status: run.process.terminationStatus)
    }
}

/// `runProcess` for the few places that cannot await (static initialisers probing what is
/// installed): blocks the calling thread until the program exits. Keep what it runs short.
public func runProcessBlocking(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let run = try ProcessRun(executable, arguments, environment: [:], removing: [], directory: nil, stdin: nil)
    defer { run.cleanUp() }
    try run.process.run()
    run.process.waitUntilExit()
    return try run.result(status: run.process.terminationStatus)
}

/// One child process with its output (and input) in temporary files.
// @unchecked Sendable: created, run and read by one thread at a time.
private final class ProcessRun: @unchecked Sendable {
    let process = Process()
    private let outPath = NSTemporaryDirectory() + "allot-run-out-\(UUID().uuidString)"
    private let errPath = NSTemporaryDirectory() + "allot-run-err-\(UUID().uuidString)"
    /// Standard input from a file, when given: its path and open handle.
    private let input: (path: String, handle: FileHandle)?
    private let outHandle: FileHandle
    private let errHandle: FileHandle

    init(
        _ executable: String, _ arguments: [String], environment: [String: String], removing: [String], directory: String?,
        stdin: Data?
    ) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var variables = ProcessInfo.processInfo.environment
        for key in removing { variables.removeValue(forKey: key) }
        process.environment = variables.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = outHandle
        process.standardError = errHandle
        if let stdin {
            // From a file, not a pipe: writing more than a pipe holds would block until the child reads.
            let path = NSTemporaryDirectory() + "allot-run-in-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: path, contents: stdin)
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            input = (path, handle)
            process.standardInput = handle
        } else {
            input = nil
            process.standardInput = FileHandle.nullDevice
        }
    }

    func result(status: Int32) throws -> ProcessResult {
        try outHandle.close()
        try errHandle.close()
        return ProcessResult(
            status: status,
            stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }

    func cleanUp() {
        try? outHandle.close()
        try? errHandle.close()
        try? input?.handle.close()
        for path in [outPath, errPath, input?.path].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
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
