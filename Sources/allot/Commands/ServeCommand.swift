import AllotCore
import AllotHTTP
import AllotServer
import AllotStore
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// `allot serve`: the edge server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve assignments over HTTP from the newest verified bundle in the stores.",
        discussion: """
            Serves the native API (GET/POST /v1/assign, POST /v1/assign/batch), OpenFeature OFREP \
            (POST /ofrep/v1/evaluate/flags[/KEY]), GET /v1/bundle, /healthz, /readyz and /metrics. \
            Polls the store's signed manifest, and every --fallback-store when it fails or once per \
            --fallback-poll-interval; the newest verified manifest among them wins. Verifies every bundle \
            with the trusted keys, never goes below the rollback floor (the highest version served, kept \
            in --state-dir, at least --min-version), refuses expired manifests, fails readiness when the \
            newest verified manifest is older than --max-staleness, keeps the last verified bundle in --cache-dir and \
            serves it at once on restart, even when no store is reachable. SIGTERM or SIGINT drains and exits. \
            See docs/server.md.

            Exit status (docs/cli.md): 0 after a graceful shutdown; 2 a key file is unreadable; 4 the \
            server could not start (address in use); 64 usage error (no --trusted-key and no \
            development key).
            """)

    @Option(
        name: .customLong("store"),
        help: ArgumentHelp("The primary store: a folder, file:///path, or s3://bucket/prefix?endpoint=URL&region=NAME.", valueName: "url"))
    var store: String

    @Option(
        name: .customLong("fallback-store"),
        help: ArgumentHelp("A store to poll when the primary fails (repeatable, in order).", valueName: "url"))
    var fallbackStores: [String] = []

    @OptionGroup var trust: OptionalTrustedKeyOptions

    @OptionGroup(title: "Exposure log") var exposure: ExposureOptions

    @Option(help: ArgumentHelp("Address to listen on: HOST:PORT, [IPv6]:PORT or :PORT (all interfaces).", valueName: "host:port"))
    var listen = "127.0.0.1:8080"

    @Option(help: ArgumentHelp("Where the last verified bundle is kept, to serve at once after a restart.", valueName: "dir"))
    var cacheDir = ".allot/cache"

    @Option(help: ArgumentHelp("Seconds between manifest polls (each wait is jittered by ±20%).", valueName: "seconds"))
    var pollInterval: Double = 10

    @Option(
        help: ArgumentHelp(
            "Where the rollback floor (the highest version served) is kept, apart from the cache; without it the floor lives in memory only.",
            valueName: "dir"))
    var stateDir: String?

    @Option(help: ArgumentHelp("Never serve a bundle version below this.", valueName: "version"))
    var minVersion: UInt64 = 0

    @Option(
        help: ArgumentHelp(
            "Readiness fails when the newest verified manifest was signed longer ago than this (\(DurationArgument.help)); default: no limit.",
            valueName: "duration"),
        transform: DurationArgument.parse)
    var maxStaleness: Int64?

    @Option(
        help: ArgumentHelp(
            "Seconds between polls of the fallback stores while the primary answers (every poll while it fails).", valueName: "seconds"))
    var fallbackPollInterval: Double = 60

    @Option(help: ArgumentHelp("Longest wait between polls after repeated failures.", valueName: "seconds"))
    var maxBackoff: Double = 300

    @Option(help: ArgumentHelp("Worker threads (event loops); default: one per core.", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("The unit type an OFREP targetingKey is the id of.", valueName: "unit"))
    var targetingKeyUnit = "user_id"

    @Option(help: ArgumentHelp("Requests accepted in one POST /v1/assign/batch.", valueName: "n"))
    var maxBatch = 1000

    @Option(help: ArgumentHelp("Open connections; more get 503 and are closed.", valueName: "n"))
    var maxConnections = 10_000

    @Option(
        help: ArgumentHelp(
            "Connections over --max-connections refused (503) per second; beyond it accepting pauses and they wait in the backlog (0: no limit).",
            valueName: "n"))
    var connectionRefusalRate = 1000

    @Option(help: ArgumentHelp("Largest request body in bytes (413 above).", valueName: "bytes"))
    var maxBodyBytes = 1 << 20

    @Option(
        help: ArgumentHelp(
            "Memory for unfinished requests across connections; requests over it get 413/503 with Retry-After.", valueName: "bytes"))
    var maxBufferedBytes = 64 << 20

    @Option(
        help: ArgumentHelp(
            "Descriptors kept for the poller, cache and logs when fitting --max-connections under the open-file limit.",
            valueName: "n"))
    var reservedDescriptors = 64

    @Option(help: ArgumentHelp("Largest request line plus headers in bytes (431 above).", valueName: "bytes"))
    var maxHeaderBytes = 16 * 1024

    @Option(help: ArgumentHelp("Seconds a client may take to send a request's headers (408 after).", valueName: "seconds"))
    var headerTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds a client may take to send a request's body (408 after).", valueName: "seconds"))
    var bodyTimeout: Double = 30

    @Option(help: ArgumentHelp("Seconds an idle keep-alive connection is kept open.", valueName: "seconds"))
    var idleTimeout: Double = 60

    @Option(help: ArgumentHelp("Seconds a client may take to read a response before it is disconnected.", valueName: "seconds"))
    var writeTimeout: Double = 30

    @Option(help: ArgumentHelp("On SIGTERM, seconds given to requests in progress before connections are closed.", valueName: "seconds"))
    var shutdownGrace: Double = 10

    @Option(help: ArgumentHelp("Attempts per S3 request within one poll (retries back off with jitter).", valueName: "n"))
    var storeAttempts = 2

    @Option(help: ArgumentHelp("Seconds an S3 request may make no progress (or stay below --store-min-speed).", valueName: "seconds"))
    var storeTimeout: Double = 10

    @Option(help: ArgumentHelp("Bytes per second below which an S3 transfer counts as stalled.", valueName: "bytes"))
    var storeMinSpeed = 1024

    @Option(help: ArgumentHelp("Seconds any one S3 request may take in all.", valueName: "seconds"))
    var storeDeadline: Double = 120

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

    @Option(help: ArgumentHelp("text (key=value) or json (one object per line), on standard error.", valueName: "format"))
    var logFormat = "text"

    /// The key `scripts/quickstart` makes, trusted when no --trusted-key is given (a development default).
    static let developmentKey = ".allot/keys/signing.pub"

    func validate() throws {
        for url in [store] + fallbackStores {
            do {
                _ = try StoreLocation(parsing: url)
            } catch {
                throw ValidationError(error.message)
            }
        }
        let canonical = try ([store] + fallbackStores).map { try StoreLocation(parsing: $0).description }
        if Set(canonical).count != canonical.count { throw ValidationError("the same store is given twice") }
        try exposure.validate(bundleStores: [store] + fallbackStores)
        guard Self.parseListen(listen) != nil else {
            throw ValidationError("--listen '\(listen)' is not HOST:PORT, [IPv6]:PORT or :PORT with a port in 0...65535")
        }
        guard pollInterval >= 0.01 else { throw ValidationError("--poll-interval must be at least 0.01 seconds") }
        guard maxBackoff >= pollInterval else { throw ValidationError("--max-backoff must not be shorter than --poll-interval") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be in 1...256") }
        guard (1...100_000).contains(maxBatch) else { throw ValidationError("--max-batch must be in 1...100000") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard connectionRefusalRate >= 0 else { throw ValidationError("--connection-refusal-rate must not be negative") }
        guard (0...(1 << 30)).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes must be in 0...1073741824") }
        guard (256...(1 << 20)).contains(maxHeaderBytes) else { throw ValidationError("--max-header-bytes must be in 256...1048576") }
        guard maxBufferedBytes >= maxHeaderBytes + maxBodyBytes + 128 * 1024 else {
            throw ValidationError(
                "--max-buffered-bytes must hold one largest request: at least --max-header-bytes + --max-body-bytes + 131072 "
                    + "(\(maxHeaderBytes + maxBodyBytes + 128 * 1024))")
        }
        guard reservedDescriptors >= 0 else { throw ValidationError("--reserved-descriptors must not be negative") }
        for (name, value) in [
            ("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout), ("--idle-timeout", idleTimeout),
            ("--write-timeout", writeTimeout), ("--store-timeout", storeTimeout), ("--store-deadline", storeDeadline),
        ] where !(value >= 0.001) {
            throw ValidationError("\(name) must be at least 0.001 seconds")
        }
        guard storeMinSpeed >= 1 else { throw ValidationError("--store-min-speed must be at least 1 byte per second") }
        guard fallbackPollInterval >= 0 else { throw ValidationError("--fallback-poll-interval must not be negative") }
        if let stateDir, stateDir.isEmpty { throw ValidationError("--state-dir must not be empty") }
        guard shutdownGrace >= 0 else { throw ValidationError("--shutdown-grace must not be negative") }
        guard storeAttempts >= 1 else { throw ValidationError("--store-attempts must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a log level") }
        guard logFormat == "text" || logFormat == "json" else { throw ValidationError("--log-format must be text or json") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "allot.serve")

        var keys = try trust.load(required: false)
        if keys.isEmpty {
            guard FileManager.default.fileExists(atPath: Self.developmentKey) else {
                throw CommandFailure(
                    message:
                        "pass at least one --trusted-key FILE (the .pub file from `allot keygen`); \(Self.developmentKey) does not exist either",
                    status: .usage)
            }
            do {
                keys = [try PublicKey(text: try KeyFile.read(Self.developmentKey, what: "development key file"))]
            } catch {
                throw CommandFailure(message: "\(Self.developmentKey): \(error)", status: .invalidInput)
            }
            logger.notice("no --trusted-key given: trusting the development key", metadata: ["file": "\(Self.developmentKey)"])
        }

        var configuration = EdgeConfiguration()
        let (host, port) = Self.parseListen(listen)!
        configuration.http.host = host
        configuration.http.port = port
        if let threads { configuration.http.threads = threads }
        configuration.http.maxConnections = maxConnections
        configuration.http.connectionRefusalRate = connectionRefusalRate
        configuration.http.maxBodyBytes = maxBodyBytes
        configuration.http.maxBufferedBytes = maxBufferedBytes
        configuration.http.reservedDescriptors = reservedDescriptors
        configuration.http.maxHeaderBytes = maxHeaderBytes
        configuration.http.headerTimeout = Self.duration(headerTimeout)
        configuration.http.bodyTimeout = Self.duration(bodyTimeout)
        configuration.http.idleTimeout = Self.duration(idleTimeout)
        configuration.http.writeTimeout = Self.duration(writeTimeout)
        configuration.http.shutdownGracePeriod = Self.duration(shutdownGrace)
        configuration.trustedKeys = keys
        configuration.cacheDirectory = cacheDir
        configuration.poller.interval = Self.duration(pollInterval)
        configuration.poller.maxBackoff = Self.duration(maxBackoff)
        configuration.poller.fallbackInterval = Self.duration(fallbackPollInterval)
        configuration.poller.minVersion = minVersion
        configuration.poller.maxStaleness = maxStaleness.map { .seconds($0) }
        configuration.stateDirectory = stateDir
        configuration.poller.targetingKeyUnit = targetingKeyUnit
        configuration.maxBatchRequests = maxBatch
        if exposure.isEnabled { configuration.exposures = try exposure.configuration() }

        let credentials = AWSCredentials.fromEnvironment(ProcessInfo.processInfo.environment)
        let s3 = S3Configuration(
            retry: RetryPolicy(maxAttempts: storeAttempts, baseDelay: 0.2, maxDelay: 2), requestTimeout: storeTimeout,
            minimumBytesPerSecond: storeMinSpeed, deadline: storeDeadline)
        let transport = s3.makeTransport()
        var storeLogger = logger
        storeLogger[metadataKey: "component"] = "store"
        let stores = try ([store] + fallbackStores).map {
            try StoreLocation(parsing: $0).open(credentials: credentials, configuration: s3, transport: transport, logger: storeLogger)
        }

        let exposureStore = try exposure.exposureStore.map {
            try StoreLocation(parsing: $0).open(credentials: credentials, configuration: s3, transport: transport, logger: storeLogger)
        }

        let server: EdgeServer
        do {
            server = try EdgeServer(configuration: configuration, stores: stores, exposureStore: exposureStore, logger: logger)
        } catch {
            throw CommandFailure(message: "cannot start the server: \(error)", status: .unavailable)
        }
        server.poller.loadCache()
        logger.notice(
            "allot serve starting",
            metadata: [
                "listen": "\(host):\(server.port)", "store": "\(stores[0].location)",
                "fallback_stores": "\(stores.dropFirst().map(\.location.description).joined(separator: ","))", "cache": "\(cacheDir)",
                "state": "\(stateDir ?? "none (floor in memory)")", "floor": "\(server.poller.floor)",
                "trusted_keys": "\(keys.map(\.id.description).joined(separator: ","))", "threads": "\(configuration.http.threads)",
            ])
        if let exposures = configuration.exposures {
            logger.notice(
                "exposure log on",
                metadata: [
                    "spool": "\(exposures.spoolDirectory)",
                    "store": "\(exposureStore.map { "\($0.location)" } ?? "none (kept in the spool)")",
                    "region": "\(exposures.region)", "server_id": "\(exposures.serverID)", "log_defaults": "\(exposures.logDefaults)",
                ])
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: server.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("allot serve stopped")
    }

    /// `HOST:PORT`, `[IPv6]:PORT`, `:PORT` (all IPv4 interfaces).
    static func parseListen(_ text: String) -> (host: String, port: Int)? {
        let host: String
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            let name = text[..<colon]
            guard !name.contains(":") else { return nil }
            host = name.isEmpty ? "0.0.0.0" : String(name)
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (host, port)
    }

    static func duration(_ seconds: Double) -> Duration {
        .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

/// One JSON object per log line on standard error: `{"ts":…,"level":…,"logger":…,"msg":…,<metadata>}`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", RFC3339.format(Int64(Date().timeIntervalSince1970))), ("level", "\(event.level)"), ("logger", label),
            ("msg", "\(event.message)"),
        ]
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for key in merged.keys.sorted() { fields.append((key, "\(merged[key]!)")) }
        var line = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { line += "," }
            line += JSONString.quoted(key) + ":" + JSONString.quoted(value)
        }
        line += "}\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
