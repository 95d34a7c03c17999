import AllotHTTP
import Testing

@Suite struct HTTPQueryTests {
    @Test(arguments: [
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("", []),
        ("&&", []),
        ("flag", [("flag", "")]),
        ("k=", [("k", "")]),
        ("=v", [("", "v")]),
        ("a=b=c", [("a", "b=c")]),
        ("q=hello+world%21", [("q", "hello world!")]),
        ("%6B%65%79=%E2%9C%93", [("key", "✓")]),
        ("x=%2B%26%3D", [("x", "+&=")]),
    ])
    func decodesPairs(_ query: String, _ expected: [(String, String)]) {
        let items = Array(query.utf8).withUnsafeBytes { HTTPQuery.items($0) }
        #expect(items?.map { $0.key } == expected.map { $0.0 })
        #expect(items?.map { $0.value } == expected.map { $0.1 })
    }

    @Test(arguments: ["%", "%4", "%zz", "a=%G1", "a=%C3%28"])
    func rejectsMalformedEscapes(_ query: String) {
        #expect(Array(query.utf8).withUnsafeBytes { HTTPQuery.items($0) } == nil)
    }

    @Test func decodesIntoReusedScratch() {
        var scratch: [UInt8] = []
        var seen: [String] = []
        let valid = Array("a=1&b=x+y&c=%41".utf8).withUnsafeBytes { query in
            HTTPQuery.forEachPair(query, scratch: &scratch) { key, value in
                seen.append(String(decoding: key, as: UTF8.self) + ":" + String(decoding: value, as: UTF8.self))
            }
        }
        #expect(valid)
        #expect(seen == ["a:1", "b:x y", "c:A"])
    }
}
