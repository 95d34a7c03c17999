/// Everything the exposure log can be told (docs/exposures.md, docs/server.md), with the defaults
/// `allot serve` documents.
public struct ExposureConfiguration: Sendable {
    /// Where segments are written and wait for shipping (`--exposure-spool`).
    public var spoolDirectory: String
    /// The region records and keys carry (`--region`).
    public var region: String
    /// The server id records and segment names carry (`--server-id`).
    public var serverID: String
    /// Also record decisions that gave the defaults (targeting miss, holdout, paused, concluded,
    /// scheduled), with `variant: null` (`--exposure-log-defaults`).
    public var logDefaults = false
    /// Bytes of each worker thread's event buffer (rounded up to a power of two). When it is full
    /// (the writer is behind), new events are dropped and counted (`buffer_full`).
    public var bufferBytes = 4 << 20
    /// Bytes the spool may hold (open and closed segments). At the limit, new events are dropped
    /// and counted (`spool_full`) until the uploader has shipped some.
    public var spoolLimitBytes = 1 << 30
    /// A segment is closed before it would grow past this many (compressed) bytes.
    public var segmentMaxBytes = 16 << 20
    /// A segment is closed once it has been open this long (and at every UTC hour boundary).
    public var segmentMaxAge: Duration = .seconds(60)
    /// How often the writer drains the worker buffers and flushes what it compressed to the open
    /// segment's file: what a `kill -9` can lose is at most this long's worth of events (and at
    /// most one buffer per worker).
    public var flushInterval: Duration = .milliseconds(50)
    /// zstd level of segments (1: fast; the records compress about 15-20×).
    public var compressionLevel: Int32 = 1
    /// How often the uploader looks for closed segments.
    public var uploadInterval: Duration = .milliseconds(500)
    /// The longest wait between upload attempts after failures (doubling from `uploadInterval`).
    public var uploadMaxBackoff: Duration = .seconds(30)
    /// On graceful shutdown, after the writer has closed its segments: how long the uploader keeps
    /// shipping before it gives up (what is left is shipped by the next start).
    public var shipGrace: Duration = .seconds(10)
    /// The writer thread's nice value (Linux: per thread), 0 to 19. High: under CPU saturation
    /// the request threads win and the writer falls behind (events are dropped and counted)
    /// rather than slowing answers; 0: the writer takes its share and answers slow down.
    public var writerNice: Int32 = defaultWriterNice
    public static let defaultWriterNice: Int32 = 19

    public init(spoolDirectory: String, region: String, serverID: String) {
        self.spoolDirectory = spoolDirectory
        self.region = region
        self.serverID = serverID
    }

    /// The characters region and server ids may use: they are path segments of object keys.
    public static func isValidIdentifier(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...64).contains(bytes.count), bytes[0] != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default: false
            }
        }
    }

    /// Throws when a value is out of range.
    public func validate() throws(ExposureError) {
        func invalid(_ message: String) -> ExposureError { ExposureError(.invalidConfiguration, message) }
        guard !spoolDirectory.isEmpty else { throw invalid("the exposure spool directory must not be empty") }
        guard Self.isValidIdentifier(region) else {
            throw invalid("region '\(region)' must be 1-64 characters of A-Z a-z 0-9 - _ . (not starting with '.')")
        }
        guard Self.isValidIdentifier(serverID) else {
            throw invalid("server id '\(serverID)' must be 1-64 characters of A-Z a-z 0-9 - _ . (not starting with '.')")
        }
        guard (64 << 10...1 << 30).contains(bufferBytes) else { throw invalid("the exposure buffer must be 64 KiB to 1 GiB") }
        guard (64 << 10...4 << 30).contains(segmentMaxBytes) else { throw invalid("the segment size limit must be 64 KiB to 4 GiB") }
        guard spoolLimitBytes >= 2 * segmentMaxBytes else {
            throw invalid("the spool limit must be at least twice the segment size limit")
        }
        guard segmentMaxAge >= .milliseconds(100) else { throw invalid("the segment age limit must be at least 0.1 s") }
        guard flushInterval >= .milliseconds(1), flushInterval <= .seconds(10) else {
            throw invalid("the flush interval must be 1 ms to 10 s")
        }
        guard (-7...19).contains(compressionLevel) else { throw invalid("the zstd level must be -7 to 19") }
        guard uploadInterval >= .milliseconds(10), uploadMaxBackoff >= uploadInterval else {
            throw invalid("the upload interval must be at least 10 ms and the backoff no shorter")
        }
        guard shipGrace >= .zero else { throw invalid("the ship grace must not be negative") }
        guard (0...19).contains(writerNice) else { throw invalid("the writer's nice value must be 0 to 19") }
    }
}

/// Why the exposure log could not start or do its work: a stable code and a message.
public struct ExposureError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String {
            case invalidConfiguration = "invalid_configuration"
            case spoolLocked = "spool_locked"
            case io
            case compression
        }

        let value: Value
        public var description: String { value.rawValue }

        /// A configuration value is out of range.
        public static let invalidConfiguration = Code(value: .invalidConfiguration)
        /// Another process uses the spool directory.
        public static let spoolLocked = Code(value: .spoolLocked)
        /// A file operation on the spool failed.
        public static let io = Code(value: .io)
        /// zstd failed.
        public static let compression = Code(value: .compression)
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
