import Foundation

/// A fresh clone of this repository as it is on disk, for tests that run the commands a person
/// types (relative paths, default flags) where a person types them.
///
/// The files git tracks or would track (`git ls-files --cached --others --exclude-standard`, so
/// uncommitted edits are included and `.build/` is not) are committed on `main` in a scratch
/// "origin" repository, which is then cloned: the clone has `main`, `origin/main` and one commit,
/// like a new contributor's checkout. Commits use a fixed author and date.
public struct FreshClone: Sendable {
    /// The clone's working tree.
    public let path: String
    /// The bare repository it was cloned from (push to it to move `origin/main`).
    public let origin: String
    /// The scratch folder holding both; `remove()` deletes it.
    public let scratch: String

    /// The fixed time of every commit the helper makes (2026-12-01T00:00:00Z).
    public static let commitTime: Int64 = 1_796_083_200

    /// `paths` limits the copy to some folders (`["experiments"]` for the compiler's journeys,
    /// which is much faster on a busy disk); nil copies the whole repository.
    public static func make(_ label: String = "clone", paths: [String]? = nil) async throws -> FreshClone {
        let scratch = Scratch.folder(label)
        let staging = scratch + "/staging"
        let origin = scratch + "/origin.git"
        let clone = scratch + "/clone"
        let root = Repository.root.path
        let listed = try await git(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--"] + (paths ?? []), in: root)
        let files = listed.split(separator: "\0").map(String.init)
        let manager = FileManager.default
        try manager.createDirectory(atPath: staging, withIntermediateDirectories: true)
        for file in files {
            let source = root + "/" + file
            var isDirectory: ObjCBool = false
            // A tracked file deleted in the working tree is deleted in the clone too.
            guard manager.fileExists(atPath: source, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let target = staging + "/" + file
            try manager.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try manager.copyItem(atPath: source, toPath: target)
        }
        _ = try await git(["init", "-q", "-b", "main"], in: staging)
        _ = try await git(["add", "-A"], in: staging)
        _ = try await git(["commit", "-q", "-m", "The repository as it is on disk"], in: staging)
        _ = try await git(["clone", "-q", "--bare", staging, origin], in: scratch)
        try manager.removeItem(atPath: staging)
        _ = try await git(["clone", "-q", origin, clone], in: scratch)
        return FreshClone(path: clone, origin: origin, scratch: scratch)
    }

    /// Commits everything in the clone's working tree (fixed author and date) and returns the commit.
    @discardableResult
    public func commit(_ message: String) async throws -> String {
        _ = try await Self.git(["add", "-A"], in: path)
        _ = try await Self.git(["commit", "-q", "-m", message], in: path)
        return try await Self.git(["rev-parse", "HEAD"], in: path).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs git in the clone; throws with git's output when it fails.
    @discardableResult
    public func git(_ arguments: [String]) async throws -> String {
        try await Self.git(arguments, in: path)
    }

    /// Replaces `old` with `new` in a file of the clone, failing if `old` is not there.
    public func edit(_ file: String, replacing old: String, with new: String) throws {
        let url = URL(fileURLWithPath: path + "/" + file)
        let text = try String(contentsOf: url, encoding: .utf8)
        guard text.contains(old) else { throw FixtureError(message: "\(file) does not contain '\(old)'") }
        try text.replacingOccurrences(of: old, with: new).write(to: url, atomically: true, encoding: .utf8)
    }

    public func remove() {
        Scratch.remove(scratch)
    }

    /// The environment every git command of these tests runs with: no user or system
    /// configuration, a fixed identity and date.
    public static let gitEnvironment: [String: String] = [
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Allot Tests", "GIT_AUTHOR_EMAIL": "tests@allot.invalid",
        "GIT_COMMITTER_NAME": "Allot Tests", "GIT_COMMITTER_EMAIL": "tests@allot.invalid",
        "GIT_AUTHOR_DATE": "@\(commitTime) +0000", "GIT_COMMITTER_DATE": "@\(commitTime) +0000",
    ]

    @discardableResult
    static func git(_ arguments: [String], in directory: String) async throws -> String {
        guard let executable = which("git") else { throw FixtureError(message: "git is not on PATH") }
        let result = try await runProcess(executable, arguments, environment: gitEnvironment, directory: directory)
        guard result.status == 0 else {
            throw FixtureError(
                message: "git \(arguments.joined(separator: " ")) in \(directory) failed (\(result.status)): \(result.output)")
        }
        return result.stdout
    }
}
