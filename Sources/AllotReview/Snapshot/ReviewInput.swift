public import AllotCore
import Foundation

/// What an `allot diff` argument names: a bundle file, an experiments directory, or a git
/// revision. An existing directory is a directory, an existing file a bundle, anything else a
/// revision; the prefixes `bundle:`, `dir:` and `rev:` force a reading (a branch named like a
/// directory, say).
public enum ReviewInput: Sendable, Equatable {
    case bundle(String)
    case directory(String)
    case revision(String)

    public init(_ argument: String) {
        if let rest = argument.dropPrefix("bundle:") {
            self = .bundle(rest)
        } else if let rest = argument.dropPrefix("dir:") {
            self = .directory(rest)
        } else if let rest = argument.dropPrefix("rev:") {
            self = .revision(rest)
        } else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
                self = isDirectory.boolValue ? .directory(argument) : .bundle(argument)
            } else {
                self = .revision(argument)
            }
        }
    }

    public var isBundle: Bool {
        if case .bundle = self { return true }
        return false
    }

    /// Loads or compiles the side. `experiments` is the experiments directory whose history
    /// revisions are read from; `trustedKeys` verify bundles.
    public func snapshot(experiments: String, trustedKeys: [PublicKey]) throws(ReviewError) -> ReviewSnapshot {
        switch self {
        case .bundle(let path): return try ReviewSnapshot.load(bundleAt: path, trustedKeys: trustedKeys)
        case .directory(let path): return try ReviewSnapshot.compile(directory: path)
        case .revision(let revision): return try GitSnapshot.compile(revision: revision, experiments: experiments)
        }
    }
}

extension String {
    fileprivate func dropPrefix(_ prefix: String) -> String? {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : nil
    }
}
