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

}
