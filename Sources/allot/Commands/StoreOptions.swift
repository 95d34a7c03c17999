import AllotStore
import ArgumentParser
import Foundation
import Logging

/// Options shared by the commands that talk to regional stores (`publish`, `status`).
struct StoreOptions: ParsableArguments {
    @Option(
        name: .customLong("store"),
        help: ArgumentHelp(
            "A region's store: a folder, file:///path, or s3://bucket/prefix?endpoint=URL&region=NAME. Repeat for every region.",
            valueName: "url"))
    var stores: [String]

    @Option(help: "Attempts per S3 request before a region is reported failed (retries use exponential backoff with jitter).")
    var attempts: Int = 4

    @Option(help: "Seconds an S3 request may make no progress before it times out (and is retried).")
    var timeout: Double = 30

    @Flag(name: .shortAndLong, help: "Log each step to standard error.")
    var verbose = false

    func validate() throws {
        guard !stores.isEmpty else { throw ValidationError("give at least one --store URL (one per region)") }
        for store in stores {
            do {
                _ = try StoreLocation(parsing: store)
            } catch {
                throw ValidationError(error.message)
            }
        }
        let canonical = try stores.map { try StoreLocation(parsing: $0).description }
        if Set(canonical).count != canonical.count { throw ValidationError("the same --store is given twice") }
        guard attempts >= 1 else { throw ValidationError("--attempts must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    /// A logger on standard error: notices (such as retries) by default, everything with --verbose.
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = verbose ? .debug : .notice
        return logger
    }

    /// The stores, with AWS credentials from the standard environment variables.
    func openStores(logger: Logger) throws -> [any ObjectStore] {
        let credentials = AWSCredentials.fromEnvironment(ProcessInfo.processInfo.environment)
        let configuration = S3Configuration(retry: RetryPolicy(maxAttempts: attempts), requestTimeout: timeout)
        let transport = configuration.makeTransport()
        return try stores.map {
            try StoreLocation(parsing: $0).open(
                credentials: credentials, configuration: configuration, transport: transport, logger: logger)
        }
    }
}

/// JSON for `--json` outputs: stable key order, snake_case keys.
enum JSONOutput {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
