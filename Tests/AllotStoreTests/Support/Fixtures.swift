import AllotCore
import Foundation
import Logging

@testable import AllotStore

/// Keys, bundles, folders and loggers for tests.
enum Fixtures {
    /// A quiet logger (set ALLOT_TEST_LOG=debug to see the stores talk).
    static let logger: Logger = {
        if let level = ProcessInfo.processInfo.environment["ALLOT_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) {
            var logger = Logger(label: "allot.test", factory: { StreamLogHandler.standardError(label: $0) })
            logger.logLevel = level
            return logger
        }
        return Logger(label: "allot.test", factory: { _ in SwiftLogNoOpLogHandler() })
    }()

    /// A real signed envelope around an arbitrary payload (publish only reads the header).
    static func bundle(version: UInt64, key: SigningKey, createdAt: Int64 = 1_764_000_000, payload: String? = nil) -> [UInt8] {
        let bytes = Array((payload ?? "payload of version \(version)").utf8)
        return try! BundleEnvelope.seal(payload: bytes, version: version, createdAt: createdAt, key: key)
    }

    /// A new empty folder under the system's temporary folder.
    static func temporaryFolder(_ label: String = "store") -> String {
        let path = NSTemporaryDirectory() + "allot-\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func removeFolder(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func read(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    static func write(_ bytes: [UInt8], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
}
