import AllotCore

#if canImport(Glibc)
    import Glibc
#endif

/// The rollback floor on disk: the highest bundle version this server has verified and served,
/// kept apart from the cache (`<state directory>/floor`) so that losing the cache, as every new
/// or rescheduled server does, does not lose it. One line: `allot-floor/1 <version>`. Written
/// atomically (temporary file, fsync, rename).
public struct FloorFile: Sendable {
    public let path: String
    static let prefix = "allot-floor/1 "

    public init(directory: String) {
        var directory = directory
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        path = directory + "/floor"
    }

    /// The persisted floor, nil when there is none yet. Throws when the file exists but is not a
    /// floor file (refused, not guessed).
    public func load() throws(FloorFileError) -> UInt64? {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readRegularFile(path: path, maxBytes: 256)
        } catch {
            if error.isNotFound { return nil }
            throw FloorFileError(description: error.description)
        }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        guard text.hasPrefix(Self.prefix), let version = UInt64(text.dropFirst(Self.prefix.count)) else {
            throw FloorFileError(description: "\(path) is not a floor file (expected '\(Self.prefix)<version>')")
        }
        return version
    }

    /// Persists `version`.
    public func save(_ version: UInt64) throws(FloorFileError) {
        do {
            if let slash = path.lastIndex(of: "/") { try FileIO.makeDirectories(String(path[..<slash])) }
            try FileIO.writeAtomically(Array("\(Self.prefix)\(version)\n".utf8), to: path)
        } catch {
            throw FloorFileError(description: error.description)
        }
    }
}

/// The floor file could not be read or written.
public struct FloorFileError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
