public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A server process started by a test on a free loopback port, killed when the test ends.
public final class ChildProcess: @unchecked Sendable {
    public let name: String
    public let port: Int
    public let logPath: String
    private let process: Process

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Starts `executable` with `arguments(port)` and waits until the port accepts connections.
    /// `environment["PWD"]`, if set, is also the working directory. `port` asks for that port (to
    /// restart a server where its clients expect it); by default a free one is picked.
    public static func start(
        name: String, executable: String, arguments: (Int) -> [String], environment: [String: String] = [:], timeout: Double = 30,
        port fixedPort: Int? = nil
    ) async throws -> ChildProcess {
        var lastError: (any Error)?
        // A free port can be taken by someone else between our probe and the server's bind: retry.
        for _ in 0..<3 {
            let port = try fixedPort ?? freePort()
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
        if let directory = environment["PWD"] { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        try process.run()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    /// The process's output so far (for failure messages).
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (up to 30 s, then SIGKILL) for the process to exit; returns its status.
    public func terminate(signal: Int32) async throws -> Int32 {
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
    public func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: logPath)
    }

    private func waitUntilListening(timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var acceptingSince: Date?
        var owned: Bool?
        while Date() < deadline {
            if ChildProcess.canConnect(port: port) {
                // Another test's server may hold the port (a free port can be handed out twice
                // before either binds): our own process's listening socket is what counts. The
                // socket tables are read without a lock, so an owner that stays unconfirmed while
                // the port answers and the child lives for 3 s is accepted.
                owned = ChildProcess.isListening(pid: process.processIdentifier, port: port)
                if owned == true { return }
                acceptingSince = acceptingSince ?? Date()
                if Date().timeIntervalSince(acceptingSince!) > 3, process.isRunning { return }
            } else {
                acceptingSince = nil
            }
            guard process.isRunning else {
                throw ChildProcessError("\(name) exited with status \(process.terminationStatus) before listening on port \(port):\n\(log)")
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        // A busy machine can keep this task from running past the deadline: look once more.
        if ChildProcess.canConnect(port: port), ChildProcess.isListening(pid: process.processIdentifier, port: port) { return }
        let state =
            owned == nil ? "the port never accepted a connection" : "the port accepts connections, but not on a socket of process \(pid)"
        throw ChildProcessError("\(name) did not listen on port \(port) within \(timeout) s (\(state)):\n\(log)")
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    /// A loopback port nobody listens on (the kernel's pick for an ephemeral bind).
    public static func freePort() throws -> Int {
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

    /// Whether process `pid` owns a listening TCP socket on `port` (Linux: the socket's inode from
    /// /proc/net/tcp{,6} among the process's open files). True where /proc is not readable.
    static func isListening(pid: Int32, port: Int) -> Bool {
        let hexPort = String(format: ":%04X", port)
        var inodes: Set<String> = []
        var readable = false
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            readable = true
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[1].hasSuffix(hexPort), fields[3] == "0A" else { continue }
                inodes.insert(String(fields[9]))
            }
        }
        guard readable else { return true }
        guard !inodes.isEmpty, let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            return false
        }
        for descriptor in descriptors {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)") else { continue }
            if target.hasPrefix("socket:["), inodes.contains(String(target.dropFirst(8).dropLast())) { return true }
        }
        return false
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    /// Runs a program to completion and returns its standard output; throws with its output on failure.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil
    ) async throws -> String {
        let result = try await runProcess(executable, arguments, environment: environment, stdin: stdin)
        guard result.status == 0 else {
            throw ChildProcessError("\(executable) \(arguments.first ?? "") failed (\(result.status)):\n\(result.output)")
        }
        return result.stdout
    }

    /// Runs a program to completion; returns its exit status and its output (both streams).
    public static func runStatus(_ executable: String, _ arguments: [String], directory: String? = nil) async throws -> (
        status: Int32, output: String
    ) {
        let result = try await runProcess(executable, arguments, directory: directory)
        return (result.status, result.output)
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
