import AllotCore
import AllotTestSupport
import Testing

/// `lower(x)` in bytecode: the `asciiFolded` flag on `stringCompare` and the fold byte of
/// `stringIn` (`docs/bundle-format.md`, "Targeting programs"). The validator admits them only where
/// they are defined, so a hand-made payload cannot ask the evaluator to fold an ordering.
struct FoldedComparisonValidationTests {
    static let yaml = """
        kind: Attributes
        attributes:
          email: string
          age: number
        ---
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }
        ---
        kind: Experiment
        name: a
        layer: checkout
        owner: o@example.com
        status: running
        traffic: 100%
        targeting: 'lower(email) endsWith "@example.com" || lower(email) in ["root", "admin"] || age in [1, 2]'
        variants:
          - { name: only, weight: 100% }
        """

    /// The payload and the offsets of the instruction starting with `head` (exactly one).
    static func payload(locating head: [UInt8]) throws -> (bytes: [UInt8], at: Int) {
        let payload = try Fixture.compile(yaml).output.payload
        let matches = (0...(payload.count - head.count)).filter { payload[$0..<($0 + head.count)].elementsEqual(head) }
        try #require(matches.count == 1, "\(head) occurs \(matches.count) times")
        return (payload, matches[0])
    }

    static func refusal(_ bytes: [UInt8]) -> String? {
        do {
            _ = try bytes.withUnsafeBytes { try Payload.validate($0) }
            return nil
        } catch let error as BundleError {
            #expect(error.code == .malformedPayload)
            return error.message
        } catch {
            Issue.record("unexpected \(error)")
            return "\(error)"
        }
    }

    // Attributes are indexed by name: age 0, email 1.
    static let foldedEndsWith: [UInt8] = [TargetingOpcode.stringCompare.rawValue, 0x80 | TargetingComparison.endsWith.rawValue, 1, 0]
    static let foldedList: [UInt8] = [TargetingOpcode.stringIn.rawValue, TargetingOpcode.foldedList, 1, 0, 2, 0, 0, 0]
    static let numberList: [UInt8] = [TargetingOpcode.numberIn.rawValue, 0, 0, 0, 2, 0, 0, 0]

    @Test func theCompiledProgramIsValid() throws {
        let (bytes, _) = try Self.payload(locating: Self.foldedEndsWith)
        #expect(Self.refusal(bytes) == nil)
        _ = try Self.payload(locating: Self.foldedList)
    }

    @Test(
        "folding is refused on an ordering comparison or an unknown one",
        arguments: [
            TargetingComparison.less.rawValue, TargetingComparison.greaterOrEqual.rawValue, 9, 0x7F,
        ] as [UInt8])
    func foldedOrderingIsRefused(_ comparison: UInt8) throws {
        let located = try Self.payload(locating: Self.foldedEndsWith)
        var bytes = located.bytes
        bytes[located.at + 1] = 0x80 | comparison
        let message = try #require(Self.refusal(bytes))
        #expect(message.contains("folds case"), "\(message)")
    }

    @Test("a fold byte other than 0 or 1 on stringIn, or any on numberIn, is refused")
    func foldBytes() throws {
        let list = try Self.payload(locating: Self.foldedList)
        var bytes = list.bytes
        bytes[list.at + 1] = 2
        #expect(Self.refusal(bytes)?.contains("non-zero reserved byte") == true)
        let numberList = try Self.payload(locating: Self.numberList)
        var numbers = numberList.bytes
        numbers[numberList.at + 1] = TargetingOpcode.foldedList
        #expect(Self.refusal(numbers)?.contains("non-zero reserved byte") == true)
    }

    /// What a server built before `lower(x)` checks: comparison codes 0-8 and a zero second byte on
    /// `stringIn`. The compiled program breaks both rules, so such a server refuses the bundle
    /// (and keeps serving the one it has) rather than misreading it.
    @Test func aValidatorThatPredatesFoldingWouldRefuse() throws {
        let (bytes, at) = try Self.payload(locating: Self.foldedEndsWith)
        #expect(bytes[at + 1] > TargetingComparison.contains.rawValue)
        let (list, start) = try Self.payload(locating: Self.foldedList)
        #expect(list[start + 1] != 0)
    }
}
