import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A server process started by a test on a free loopback port, killed when the test ends.
/// (Adapted from AllotStoreTests' support: test targets do not import each other.)
final class ChildProcess: @unchecked Sendable {
    let name: String
    let port: Int
    let logPath: String
    private let process: Process

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Starts `executable` with `arguments(port)` and waits until the port accepts connections.
    static func start(
        name: String, executable: String, arguments: (Int) -> [String], environment: [String: String] = [:], timeout: Double = 30
    ) async throws -> ChildProcess {
        var lastError: (any Error)?
        // A free port can be taken by someone else between our probe and the server's bind: retry.
        for _ in 0..<3 {
            let port = try freePort()
            let child = try ChildProcess(
                name: name, executable: executable, arguments: arguments(port), port: port, environment: environment)
            do {
                try await child.waitUntilListening(timeout: timeout)
                return child
            } catch {
                child.kill()
                lastError = error
            }
        }
        throw lastError!
    }

    private init(name: String, executable: String, arguments: [String], port: Int, environment: [String: String]) throws {
        let directory = environment["PWD"]
        self.name = name
        self.port = port
        self.logPath = NSTemporaryDirectory() + "allot-\(name)-\(port)-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        try process.run()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// The process's output so far (for failure messages).
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (up to 30 s, then SIGKILL) for the process to exit; returns its status.
    func terminate(signal: Int32) async throws -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        Glibc.kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw ChildProcessError("\(name) did not exit within 30 s of signal \(signal):\n\(log)")
        }
        return process.terminationStatus
    }

    /// SIGKILL, as a crash would; waits for the process to go.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    private func waitUntilListening(timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ChildProcess.canConnect(port: port) { return }
            guard process.isRunning else {
                throw ChildProcessError("\(name) exited with status \(process.terminationStatus) before listening on port \(port):\n\(log)")
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw ChildProcessError("\(name) did not listen on port \(port) within \(timeout) s:\n\(log)")
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChildProcessError("socket failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw ChildProcessError("bind failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    /// Runs a program to completion and returns its standard output; throws with its output on failure.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        // Output goes to files, so neither stream can fill a pipe and stall the child.
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
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        let data = FileManager.default.contents(atPath: outPath) ?? Data()
        let errorData = FileManager.default.contents(atPath: errPath) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw ChildProcessError(
                "\(executable) \(arguments.first ?? "") failed (\(process.terminationStatus)):\n\(text)\(String(decoding: errorData, as: UTF8.self))"
            )
        }
        return text
    }

    /// Runs a program to completion; returns its exit status and its output (both streams).
    static func runStatus(_ executable: String, _ arguments: [String], directory: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let path = NSTemporaryDirectory() + "allot-run-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self))
    }

    /// The first executable called `name` on PATH.
    static func which(_ name: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

struct ChildProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
