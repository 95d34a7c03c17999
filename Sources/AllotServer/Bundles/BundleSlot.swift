import Synchronization

/// The bundle being served, swapped atomically.
///
/// Workers call `current()` once at the start of a request and keep the returned reference until
/// the response is written: a swap in the meantime does not affect that request, and the old
/// bundle is released (unmapped) when the last request holding it finishes. The lock is held only
/// to copy or replace one reference.
public final class BundleSlot: Sendable {
    private let slot = Mutex<ServedBundle?>(nil)

    public init() {}

    /// The bundle to answer the next request with, or nil before the first one is installed.
    @inline(__always)
    public func current() -> ServedBundle? {
        slot.withLock { $0 }
    }

    /// Installs `bundle` and returns the one it replaced.
    @discardableResult
    public func install(_ bundle: ServedBundle) -> ServedBundle? {
        slot.withLock { current in
            let previous = current
            current = bundle
            return previous
        }
    }
}
