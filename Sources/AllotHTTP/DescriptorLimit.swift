import CAllotLinux

#if canImport(Glibc)
    import Glibc
#endif

/// The process's open-descriptor limit (`RLIMIT_NOFILE`), raised toward what the server needs.
///
/// Every connection is a descriptor. With a soft limit below the connection cap, accepting stops
/// with `EMFILE` while the cap still says yes, and everything else in the process that opens a
/// file (the bundle poller, the cache, logs) fails with it. So at start the server raises the soft
/// limit as far as the hard one allows, and takes no more connections than fit under it with a
/// reserve left for the rest of the process.
struct DescriptorLimit {
    /// The soft limit before and after raising it.
    let before: Int
    let soft: Int
    /// The hard limit (`Int.max` for unlimited).
    let hard: Int

    /// Raises the soft limit to `wanted`, or to the hard limit if that is lower. When the limit
    /// cannot be read, reports it as unlimited (nothing to fit).
    static func raise(toward wanted: Int) -> DescriptorLimit {
        var limit = rlimit()
        guard getrlimit(CAllotLinux_RLIMIT_NOFILE, &limit) == 0 else {
            return DescriptorLimit(before: .max, soft: .max, hard: .max)
        }
        let before = Int(clamping: limit.rlim_cur)
        let hard = Int(clamping: limit.rlim_max)
        guard before < wanted else { return DescriptorLimit(before: before, soft: before, hard: hard) }
        var raised = limit
        raised.rlim_cur = rlim_t(min(wanted, hard))
        guard setrlimit(CAllotLinux_RLIMIT_NOFILE, &raised) == 0 else {
            return DescriptorLimit(before: before, soft: before, hard: hard)
        }
        return DescriptorLimit(before: before, soft: Int(raised.rlim_cur), hard: hard)
    }
}
