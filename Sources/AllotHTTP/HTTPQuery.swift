/// Query strings (`application/x-www-form-urlencoded` rules): pairs split on `&`, key and value
/// split on the first `=`, `%XX` escapes and `+` as space.
public enum HTTPQuery {
    /// Appends the decoded form of `encoded` to `output`. Returns false (output partially
    /// written) when a `%` is not followed by two hex digits. `plusAsSpace: false` decodes a
    /// path segment, where `+` is itself.
    @discardableResult
    public static func decode(_ encoded: UnsafeRawBufferPointer, into output: inout [UInt8], plusAsSpace: Bool = true) -> Bool {
        var i = 0
        let count = encoded.count
        while i < count {
            let byte = encoded[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < count, let high = hexValue(encoded[i + 1]), let low = hexValue(encoded[i + 2]) else { return false }
                output.append(high << 4 | low)
                i += 3
            } else {
                output.append(plusAsSpace && byte == UInt8(ascii: "+") ? 0x20 : byte)
                i += 1
            }
        }
        return true
    }

    /// The decoded form of `encoded` as a String, or nil when an escape is malformed or the
    /// result is not valid UTF-8.
    public static func decodeString(_ encoded: UnsafeRawBufferPointer) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encoded.count)
        guard decode(encoded, into: &bytes) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Calls `body` with each raw (still encoded) key and value, in order. Empty segments
    /// (`a=1&&b=2`) are skipped; a segment without `=` has an empty value.
    public static func forEachRawPair<E: Error>(
        _ query: UnsafeRawBufferPointer,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        var start = 0
        let count = query.count
        while start <= count {
            var end = start
            while end < count, query[end] != UInt8(ascii: "&") { end += 1 }
            if end > start {
                var equals = start
                while equals < end, query[equals] != UInt8(ascii: "=") { equals += 1 }
                let key = UnsafeRawBufferPointer(rebasing: query[start..<equals])
                let value = UnsafeRawBufferPointer(rebasing: query[Swift.min(equals + 1, end)..<end])
                try body(key, value)
            }
            start = end + 1
        }
    }

    /// Calls `body` with each decoded key and value, decoding into `scratch` (cleared first,
    /// capacity kept) only when a pair holds `%` escapes or `+` (other pairs are passed as views of
    /// `query`), so a thread that keeps its scratch decodes without allocating. Returns
    /// false at the first malformed escape, without calling `body` for that pair.
    public static func forEachPair(
        _ query: UnsafeRawBufferPointer,
        scratch: inout [UInt8],
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void
    ) -> Bool {
        var valid = true
        forEachRawPair(query) { (rawKey, rawValue) -> Void in
            guard valid else { return }
            // Most pairs hold nothing to decode: hand the raw bytes over without copying.
            if !needsDecoding(rawKey), !needsDecoding(rawValue) {
                body(rawKey, rawValue)
                return
            }
            scratch.removeAll(keepingCapacity: true)
            guard decode(rawKey, into: &scratch) else {
                valid = false
                return
            }
            let keyLength = scratch.count
            guard decode(rawValue, into: &scratch) else {
                valid = false
                return
            }
            scratch.withUnsafeBytes { all in
                body(UnsafeRawBufferPointer(rebasing: all[0..<keyLength]), UnsafeRawBufferPointer(rebasing: all[keyLength...]))
            }
        }
        return valid
    }

    /// All pairs, decoded, as Strings; nil when an escape is malformed or not UTF-8. Allocates:
    /// for tests and cold paths.
    public static func items(_ query: UnsafeRawBufferPointer) -> [(key: String, value: String)]? {
        var result: [(key: String, value: String)] = []
        var failed = false
        forEachRawPair(query) { (key, value) -> Void in
            guard !failed, let k = decodeString(key), let v = decodeString(value) else {
                failed = true
                return
            }
            result.append((k, v))
        }
        return failed ? nil : result
    }

    /// Whether `encoded` holds a `%` escape or a `+`.
    @inline(__always)
    static func needsDecoding(_ encoded: UnsafeRawBufferPointer) -> Bool {
        for byte in encoded where byte == UInt8(ascii: "%") || byte == UInt8(ascii: "+") { return true }
        return false
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
