import Foundation
public import Logging

/// The logger tests hand to stores, pollers and servers: quiet, unless `ALLOT_TEST_LOG` names a
/// level (`ALLOT_TEST_LOG=debug swift test ...` to see them talk).
public let testLogger: Logger = {
    if let level = ProcessInfo.processInfo.environment["ALLOT_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) {
        var logger = Logger(label: "allot.test", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level
        return logger
    }
    return Logger(label: "allot.test", factory: { _ in SwiftLogNoOpLogHandler() })
}()
