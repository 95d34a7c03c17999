internal import AllotCore

/// Where things are inside one region's store (under the store URL's prefix):
///
/// ```
/// manifest.json                      the signed pointer to the current bundle (small, rewritten)
/// bundles/<blake2b-256 hex>.bundle   bundle envelopes, named by the hash of their bytes (immutable)
/// ```
public enum StoreLayout {
    /// The key of the signed manifest.
    public static let manifestKey = "manifest.json"
    /// The folder of bundle objects.
    public static let bundlesPrefix = "bundles/"

    /// The content address of a bundle envelope: `bundles/<BLAKE2b-256 of the whole file, hex>.bundle`.
    public static func bundleKey(forEnvelope bytes: [UInt8]) -> String {
        bundleKey(blake2b: Blake2b.hash256(bytes))
    }

    /// The content address for a known BLAKE2b-256 digest.
    public static func bundleKey(blake2b: [UInt8]) -> String {
        bundlesPrefix + Hex.encode(blake2b) + ".bundle"
    }
}
