import Testing

@testable import AllotCore

/// The strict JSON reader the OFREP and batch routes use: what it accepts and what it refuses.
@Suite("JSON scanner")
struct JSONScannerTests {
    /// Skips one value and checks nothing follows; returns the failure message, or nil.
    func skipWhole(_ text: String) -> String? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw -> String? in
            var scanner = JSONScanner(UnsafeRawBufferPointer(raw))
            do throws(JSONScanner.Failure) {
                try scanner.skipValue()
                try scanner.finish()
                return nil
            } catch {
                return error.message
            }
        }
    }

    @Test(
        "accepts RFC 8259 values",
        arguments: [
            "0", "-0", "12", "-1.5e+10", "1E-3", "true", "false", "null", #""""#, #""a\"b\\c\/d\b\f\n\r\t""#, #""\u00e9\ud83d\ude00""#,
            "\"é😀\"", "[]", "{}", #"{"a":[1,{"b":null}],"c":"d"}"#, " \t\n[ 1 , 2 ]\r\n",
        ])
    func accepts(_ text: String) {
        #expect(skipWhole(text) == nil)
    }

    @Test(
        "refuses malformed values with the byte offset",
        arguments: [
            "01", "1.", "-", "1e", "+1", ".5", "NaN", "tru", "nullx", #""abc"#, #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00""#,
            "\"\u{01}\"", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "{1:2}", "[1 2]", "\"a\" \"b\"", "", "1e999",
            String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
        ])
    func refuses(_ text: String) {
        let message = skipWhole(text)
        #expect(message != nil, "accepted \(text)")
        #expect(message?.hasPrefix("malformed JSON at byte ") == true)
    }

    @Test("refuses invalid UTF-8 inside strings")
    func invalidUTF8() {
        for bytes: [UInt8] in [
            [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
        ] {
            var copy = bytes
            let refused = copy.withUnsafeMutableBytes { raw -> Bool in
                var scanner = JSONScanner(UnsafeRawBufferPointer(raw))
                var output: [UInt8] = []
                do {
                    try scanner.readString(into: &output)
                    return false
                } catch {
                    return true
                }
            }
            #expect(refused, "\(bytes)")
        }
    }

    @Test("decodes escapes and surrogate pairs to UTF-8")
    func decodes() throws {
        var bytes = Array(#""a\u00e9\ud83d\ude00\n\/""#.utf8)
        let decoded = try bytes.withUnsafeMutableBytes { raw -> [UInt8] in
            var scanner = JSONScanner(UnsafeRawBufferPointer(raw))
            var output: [UInt8] = []
            try scanner.readString(into: &output)
            return output
        }
        #expect(String(decoding: decoded, as: UTF8.self) == "aé😀\n/")
    }
}
