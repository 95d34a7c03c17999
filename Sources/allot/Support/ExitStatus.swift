/// The exit statuses of every `allot` command: one table (docs/cli.md), so scripts and CI can
/// tell "the check found something" from "the input is wrong" from "try again later".
enum ExitStatus: Int32, CaseIterable, Sendable {
    /// Done; nothing to report.
    case success = 0
    /// The command worked and found what it checks for: `compile --locked` (the lock would
    /// change), `diff --fail-on-reassign` (enrolled units would move), `lint --strict` (warnings),
    /// `status` (regions disagree).
    case wouldChange = 1
    /// Input that cannot be read, does not compile or does not verify (experiment files, bundles,
    /// keys, manifests, batch requests); nothing was written.
    case invalidInput = 2
    /// The destination refused: a region holds a newer version or another bundle of this version
    /// (`publish`), key files exist (`keygen` without `--force`). Rerunning does not help.
    case refused = 3
    /// A store, the network or the file system failed; rerunning when it is back can succeed.
    case unavailable = 4
    /// The command line is wrong: an unknown command or flag, a missing or malformed value.
    case usage = 64

    var code: Int32 { rawValue }
}
