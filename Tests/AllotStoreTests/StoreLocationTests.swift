import Testing

@testable import AllotStore

@Suite("Store URLs")
struct StoreLocationTests {
    @Test(
        "folders and file URLs",
        arguments: [
            ("/var/lib/allot", "/var/lib/allot"),
            ("./store", "./store"),
            ("relative/dir", "relative/dir"),
            ("file:///var/lib/allot", "/var/lib/allot"),
            ("file://localhost/srv/a%20b", "/srv/a b"),
        ])
    func local(text: String, path: String) throws {
        #expect(try StoreLocation(parsing: text) == .local(path: path))
    }

    @Test("a custom endpoint: path-style, region defaults to us-east-1")
    func customEndpoint() throws {
        let location = try StoreLocation(parsing: "s3://allot-eu/prod/edge?endpoint=http://127.0.0.1:9000")
        guard case .s3(let s3) = location else {
            Issue.record("not S3")
            return
        }
        #expect(s3.bucket == "allot-eu")
        #expect(s3.prefix == "prod/edge/")
        #expect(s3.region == "us-east-1")
        #expect(s3.endpoint == S3Location.Endpoint(secure: false, host: "127.0.0.1", port: 9000))
        #expect(s3.addressing == .path)
        #expect(location.description == "s3://allot-eu/prod/edge?endpoint=http://127.0.0.1:9000&region=us-east-1")
        // The canonical text parses back to the same location.
        #expect(try StoreLocation(parsing: location.description) == location)
    }

    @Test("AWS without an endpoint: virtual-host style unless the bucket has dots")
    func aws() throws {
        guard case .s3(let plain) = try StoreLocation(parsing: "s3://allot-eu?region=eu-west-1") else { return }
        #expect(plain.addressing == .virtualHost)
        #expect(plain.effectiveEndpoint.description == "https://allot-eu.s3.eu-west-1.amazonaws.com")
        guard case .s3(let dotted) = try StoreLocation(parsing: "s3://allot.example.com/x/?region=eu-west-1") else { return }
        #expect(dotted.addressing == .path)
        #expect(dotted.prefix == "x/")
        #expect(dotted.effectiveEndpoint.description == "https://s3.eu-west-1.amazonaws.com")
        guard case .s3(let forced) = try StoreLocation(parsing: "s3://allot-eu?region=eu-west-1&addressing=path") else { return }
        #expect(forced.addressing == .path)
        #expect(try StoreLocation(parsing: forced.description) == .s3(forced))
    }

    @Test("an https endpoint on its default port has no port in Host")
    func defaultPort() throws {
        guard case .s3(let s3) = try StoreLocation(parsing: "s3://bkt?endpoint=https://minio.internal:443/&region=eu-west-1") else {
            return
        }
        #expect(s3.effectiveEndpoint.hostHeader == "minio.internal")
    }

    @Test(
        "bad URLs are explained",
        arguments: [
            ("", "empty"),
            ("gs://bucket", "scheme 'gs' is not supported"),
            ("file://relative/path", "absolute path"),
            ("s3://", "bucket name is missing"),
            ("s3://ab?endpoint=http://h:1", "3 to 63"),
            ("s3://Upper-Case?region=eu-west-1", "lowercase"),
            ("s3://-bucket?region=eu-west-1", "start and end"),
            ("s3://bucket", "needs the bucket's region"),
            ("s3://bucket?endpoint=ftp://h", "http:// or https://"),
            ("s3://bucket?endpoint=http://h:99999", "out of range"),
            ("s3://bucket?endpoint=http://h:port", "malformed port"),
            ("s3://bucket?endpoint=http://h/path", "without a path"),
            ("s3://bucket?region=EU", "not a region name"),
            ("s3://bucket?region=eu-west-1&color=blue", "unknown parameter 'color'"),
            ("s3://bucket?region", "not name=value"),
            ("s3://bucket/a/../b?region=eu-west-1", "not a valid key prefix"),
            ("s3://my.bucket?region=eu-west-1&addressing=virtual", "containing dots"),
            ("s3://bucket?region=eu-west-1&addressing=dns", "'path' or 'virtual'"),
        ])
    func bad(text: String, reason: String) {
        #expect {
            _ = try StoreLocation(parsing: text)
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .badURL && error.message.contains(reason) && error.message.contains("s3://bucket/prefix")
        }
    }

    @Test(
        "object key rules",
        arguments: [
            ("manifest.json", true), ("bundles/ab.bundle", true), ("a b/ü+%.x", true),
            ("", false), ("/abs", false), ("trailing/", false), ("a//b", false), ("a/./b", false), ("../x", false),
            ("line\nbreak", false), (".allot-lock", false), (String(repeating: "k", count: 1025), false),
        ])
    func keys(key: String, valid: Bool) {
        #expect(((try? ObjectKey.validate(key)) != nil) == valid)
    }

    @Test("URI encoding: unreserved kept, everything else %XX uppercase; path keeps '/'")
    func uriEncoding() {
        #expect(URIEncoding.encodeComponent("a b/c~d_e-f.g*h+ü") == "a%20b%2Fc~d_e-f.g%2Ah%2B%C3%BC")
        #expect(URIEncoding.encodePath("a b/c~d") == "a%20b/c~d")
        #expect(URIEncoding.decode("a%20b%2Bc+d") == "a b+c+d")
        #expect(URIEncoding.decode("%zz") == nil)
        #expect(URIEncoding.decode("%C3") == nil)
    }
}
