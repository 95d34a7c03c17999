import CAllotLinux

/// Gives the allocator's free memory back to the system after a bundle was fetched, verified,
/// decompressed and loaded. Loading allocates a few times the payload for a moment (the envelope,
/// the decompressed bytes, the evaluation plan) on whichever thread the poller ran; glibc keeps
/// what was freed in that thread's arena, resident, until it is reused, which for a server that
/// loads a bundle once every few minutes is never. `malloc_trim` returns every whole free page of
/// every arena (measured: 4.7 of the 5.3 MiB such an arena held after loading the 1,000-experiment
/// bundle; docs/performance.md). Costs well under a millisecond, once per load.
enum HeapTrim {
    static func releaseFreeMemory() {
        _ = malloc_trim(0)
    }
}
