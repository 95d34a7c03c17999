import Foundation

/// Reads the experiments directory as it was at a git revision, for `allot diff main HEAD`.
///
/// The directory is exported with `git archive REV -- DIR` into a temporary directory and
/// compiled there, lock included, exactly as `allot compile` would have compiled that commit.
/// Nothing in the repository changes (no checkout, no worktree, no index update). Only the
/// experiments directory is exported: an `idsFile` outside it is not found. A revision where the
/// directory does not exist yet is an empty project, so the first change that adds experiments
/// diffs against nothing.
public enum GitSnapshot {
    /// Compiles the experiments directory `experiments` (a path relative to the working
    /// directory, inside a git repository) as it is at `revision`.
    public static func compile(revision: String, experiments: String) throws(ReviewError) -> ReviewSnapshot {
        let location = try locate(experiments)
        guard let commit = git(["rev-parse", "--verify", "--quiet", "\(revision)^{commit}"], in: location.root)?.output, !commit.isEmpty
        else {
            throw ReviewError("'\(revision)' is not a bundle file, an experiments directory or a git revision of \(location.root)")
        }
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("allot-diff-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let tree = temporary + "/tree"
        do {
            try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        } catch {
            throw ReviewError("cannot create a temporary directory: \(error)")
        }
        let pathspec = location.relative.isEmpty ? "." : location.relative
        let listed = git(["ls-tree", "-d", "--name-only", commit, "--", pathspec], in: location.root)
        let exists = location.relative.isEmpty || !(listed?.output.isEmpty ?? true)
        let directory = location.relative.isEmpty ? tree : tree + "/" + location.relative
        if exists {
            let archive = temporary + "/snapshot.tar"
            guard let archived = git(["archive", "--format=tar", "-o", archive, commit, "--", pathspec], in: location.root),
                archived.status == 0
            else {
                throw ReviewError("git archive \(revision) -- \(pathspec) failed in \(location.root)")
            }
            guard Git.command("tar", ["-xf", archive, "-C", tree], in: location.root)?.status == 0 else {
                throw ReviewError("cannot extract the experiments of \(revision) (tar -xf failed)")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ReviewError("cannot create a temporary directory: \(error)")
            }
        }
        let shownDirectory = location.relative.isEmpty ? "" : location.relative + "/"
        return try ReviewSnapshot.compile(
            directory: directory,
            origin: .revision(name: revision, commit: commit, directory: location.relative.isEmpty ? "." : location.relative),
            displayPrefix: (directory + "/", "\(revision):\(shownDirectory)"))
    }

    /// The repository root and the experiments directory relative to it.
    static func locate(_ experiments: String) throws(ReviewError) -> (root: String, relative: String) {
        let current = FileManager.default.currentDirectoryPath
        let absolute = URL(fileURLWithPath: experiments, relativeTo: URL(fileURLWithPath: current, isDirectory: true)).standardizedFileURL
            .path
        // Start from the deepest existing ancestor: the directory may not exist in the working tree.
        var probe = absolute
        while !FileManager.default.fileExists(atPath: probe), probe != "/" { probe = (probe as NSString).deletingLastPathComponent }
        guard let top = git(["rev-parse", "--show-toplevel"], in: probe), top.status == 0, !top.output.isEmpty else {
            throw ReviewError("'\(experiments)' is not inside a git repository, so revisions cannot be read")
        }
        let root = URL(fileURLWithPath: top.output).resolvingSymlinksInPath().path
        let resolved = resolveExistingPrefix(absolute)
        guard resolved == root || resolved.hasPrefix(root + "/") else {
            throw ReviewError("'\(experiments)' is outside the repository at \(root)")
        }
        return (root, resolved == root ? "" : String(resolved.dropFirst(root.count + 1)))
    }

    /// `path` with symlinks resolved in its longest existing prefix (so /tmp and /private/tmp agree).
    private static func resolveExistingPrefix(_ path: String) -> String {
        var existing = path
        var missing: [String] = []
        while !FileManager.default.fileExists(atPath: existing), existing != "/" {
            missing.insert((existing as NSString).lastPathComponent, at: 0)
            existing = (existing as NSString).deletingLastPathComponent
        }
        var resolved = URL(fileURLWithPath: existing).resolvingSymlinksInPath().path
        for component in missing { resolved += (resolved.hasSuffix("/") ? "" : "/") + component }
        return resolved
    }

    static func git(_ arguments: [String], in directory: String) -> (status: Int32, output: String)? {
        Git.run(arguments, in: directory)
    }
}
