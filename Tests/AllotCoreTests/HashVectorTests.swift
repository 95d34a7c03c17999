import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// XXH3 against the xxHash project's official sanity vectors and the `xxhash` PyPI package, and
/// Allot's bucketing against vectors from an independent Python implementation.
struct HashVectorTests {
    struct XXH3File: Decodable {
        struct Official: Decodable {
            var length: Int
            var seed: String
            var hash: String
        }
        struct Peer: Decodable {
            var utf8: String
            var seed: String
            var hash: String
        }
        var official: [Official]
        var peer: [Peer]
    }

    struct BucketFile: Decodable {
        struct Case: Decodable {
            var salt: String
            var unit: String
            var hash: String
            var bucket: Int
        }
        struct Mapping: Decodable {
            var hash: String
            var bucket: Int
        }
        struct Scheme2Case: Decodable {
            var salt: String
            var unit: String
            var digest: String
            var seed: String
            var hash: String
            var bucket: Int
        }
        var bucketCount: Int
        var cases: [Case]
        var scheme2Cases: [Scheme2Case]
        var mapping: [Mapping]
    }

    struct XXH3128File: Decodable {
        struct Vector: Decodable {
            var length: Int
            var seed: String
            var high: String
            var low: String
        }
        var vectors: [Vector]
    }

    static func hex(_ value: UInt64) -> String { String(format: "%016lx", value) }

    static func sanityBuffer(_ length: Int) -> [UInt8] {
        var generator: UInt64 = 2_654_435_761
        return (0..<length).map { _ in
            defer { generator = generator &* 11_400_714_785_074_694_797 }
            return UInt8(generator >> 56)
        }
    }

    @Test func officialSanityVectors() throws {
        let file = try JSONDecoder().decode(XXH3File.self, from: Repository.vectors("xxh3.json"))
        #expect(file.official.count == 26)
        let buffer = Self.sanityBuffer(2367)
        for vector in file.official {
            let hash = XXH3.hash64(buffer[0..<vector.length], seed: UInt64(vector.seed)!)
            #expect(String(format: "%016lx", hash) == vector.hash, "length \(vector.length) seed \(vector.seed)")
        }
    }

    @Test func peerVectors() throws {
        let file = try JSONDecoder().decode(XXH3File.self, from: Repository.vectors("xxh3.json"))
        #expect(file.peer.count >= 50)
        for vector in file.peer {
            let hash = XXH3.hash64(Array(vector.utf8.utf8), seed: UInt64(vector.seed)!)
            #expect(String(format: "%016lx", hash) == vector.hash, "\(vector.utf8.prefix(20)) seed \(vector.seed)")
        }
    }

    @Test func bucketVectors() throws {
        let file = try JSONDecoder().decode(BucketFile.self, from: Repository.vectors("buckets.json"))
        #expect(file.bucketCount == Bucketing.bucketCount)
        #expect(file.cases.count > 200)
        for vector in file.cases {
            #expect(String(format: "%016lx", Bucketing.hash(salt: vector.salt, unitID: vector.unit)) == vector.hash)
            #expect(Bucketing.bucket(salt: vector.salt, unitID: vector.unit) == vector.bucket, "\(vector.salt)/\(vector.unit)")
        }
    }

    @Test func xxh3With128BitsOnEveryLengthPath() throws {
        let file = try JSONDecoder().decode(XXH3128File.self, from: Repository.vectors("xxh3-128.json"))
        #expect(file.vectors.count >= 100)
        let buffer = Self.sanityBuffer(2367)
        for vector in file.vectors {
            let hash = XXH3.hash128(buffer[0..<vector.length], seed: UInt64(vector.seed)!)
            #expect(Self.hex(hash.high) == vector.high && Self.hex(hash.low) == vector.low, "length \(vector.length) seed \(vector.seed)")
        }
    }

    @Test func scheme2BucketVectors() throws {
        let file = try JSONDecoder().decode(BucketFile.self, from: Repository.vectors("buckets.json"))
        #expect(file.scheme2Cases.count > 200)
        for vector in file.scheme2Cases {
            let digest = UnitDigest(id: vector.unit)
            #expect(digest.bytes.map { String(format: "%02x", $0) }.joined() == vector.digest, "\(vector.unit)")
            #expect(Self.hex(XXH3.hash64(Array(vector.salt.utf8))) == vector.seed, "\(vector.salt)")
            #expect(Self.hex(Bucketing.hash(scheme: .unitDigest, salt: vector.salt, unitID: vector.unit)) == vector.hash)
            #expect(
                Bucketing.bucket(scheme: .unitDigest, salt: vector.salt, unitID: vector.unit) == vector.bucket,
                "\(vector.salt)/\(vector.unit)")
            // The salt key's shortcut is XXH3 of the 16 digest bytes under the salt's seed.
            #expect(SaltKey(salt: vector.salt).hash(digest) == XXH3.hash64(digest.bytes, seed: XXH3.hash64(Array(vector.salt.utf8))))
        }
        // Scheme 1 cases through the scheme-taking entry point are scheme 1's.
        for vector in file.cases.prefix(20) {
            #expect(Self.hex(Bucketing.hash(scheme: .saltedID, salt: vector.salt, unitID: vector.unit)) == vector.hash)
        }
    }

    @Test func mappingRejectsTheBiasedZone() throws {
        let file = try JSONDecoder().decode(BucketFile.self, from: Repository.vectors("buckets.json"))
        for vector in file.mapping {
            #expect(Bucketing.bucket(forHash: UInt64(vector.hash, radix: 16)!) == vector.bucket, "hash \(vector.hash)")
        }
        // 0 and 2^63 fall in the rejection zone: their buckets differ from the plain multiply-shift.
        #expect(Bucketing.bucket(forHash: 0) != 0)
        #expect(Bucketing.bucket(forHash: 1 << 63) != 5000)
    }

    @Test func separatorMakesSaltAndIDUnambiguous() {
        // Without a separator "ab"+"c" and "a"+"bc" would hash the same bytes.
        #expect(Bucketing.hash(salt: "ab", unitID: "c") != Bucketing.hash(salt: "a", unitID: "bc"))
    }

    @Test func saltKeysAgreeWithSeededXXH3ForAnySeed() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let seed = random.next() as UInt64
            let digest = UnitDigest(first: random.next(), second: random.next())
            #expect(SaltKey(seed: seed).hash(digest) == XXH3.hash64(digest.bytes, seed: seed))
        }
    }

    @Test(arguments: BucketingScheme.allCases)
    func bucketsAreUniform(scheme: BucketingScheme) {
        // 200,000 ids over 10,000 buckets: a chi-square far above its 9,999 degrees of freedom would mean bias.
        var counts = [Int](repeating: 0, count: Bucketing.bucketCount)
        let total = 200_000
        for i in 0..<total { counts[Bucketing.bucket(scheme: scheme, salt: "uniformity", unitID: "user-\(i)")] += 1 }
        let expected = Double(total) / Double(Bucketing.bucketCount)
        let chiSquare = counts.reduce(0.0) { $0 + pow(Double($1) - expected, 2) / expected }
        // Mean 9,999, standard deviation ~141: 10,600 is beyond four standard deviations.
        #expect(chiSquare < 10_600, "chi-square \(chiSquare)")
        #expect(chiSquare > 9_400, "suspiciously uniform: \(chiSquare)")
    }
}
