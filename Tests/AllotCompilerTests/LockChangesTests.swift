import AllotCompiler
import AllotTestSupport
import Testing

/// `AllocationLock.changes(from:)`, which `allot compile --locked` prints when it refuses.
struct LockChangesTests {
    static let layer = """
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }

        """

    static func experiment(_ name: String, traffic: String = "20%", status: String = "running", weights: (Int, Int) = (50, 50)) -> String {
        """
        ---
        kind: Experiment
        name: \(name)
        layer: checkout
        owner: o@example.com
        status: \(status)
        traffic: \(traffic)
        variants:
          - { name: control, weight: \(weights.0)% }
          - { name: red, weight: \(weights.1)%, params: { color: red } }

        """
    }

    static func changes(_ old: String, _ new: String) throws -> [String] {
        let (before, after) = try Fixture.change(Self.layer + old, Self.layer + new)
        return after.output.lock.changes(from: before.output.lock)
    }

    @Test func anUnchangedProjectChangesNothing() throws {
        #expect(try Self.changes(Self.experiment("a"), Self.experiment("a")).isEmpty)
    }

    @Test func aReturnFromDormancyDropsTheKeptLayout() throws {
        let (_, away) = try Fixture.change(Self.layer + Self.experiment("a"), Self.layer + Self.experiment("a", status: "draft"))
        let back = try Fixture.compile(Self.layer + Self.experiment("a"), lock: away.output.lock)
        #expect(
            back.output.lock.changes(from: away.output.lock) == [
                "checkout/a: added with layer buckets 0-1999 (2000 buckets)",
                "checkout/a: dormant variant layout dropped (the experiment holds buckets again, or is deleted)",
                "checkout: freed buckets 2000 buckets → 0 buckets",
            ])
    }

    @Test func eachKindOfChangeHasItsLine() throws {
        let old = Self.experiment("a") + Self.experiment("b", traffic: "10%")
        let new = Self.experiment("a", traffic: "30%", weights: (40, 60)) + Self.experiment("b", status: "concluded") + Self.experiment("c")
        #expect(
            try Self.changes(old, new) == [
                "checkout/a: layer buckets 0-1999 → 0-1999, 3000-3999 (2000 buckets → 3000 buckets)",
                "checkout/a: variant 'control' buckets 0-4999 → 0-3999 (5000 buckets → 4000 buckets)",
                "checkout/a: variant 'red' buckets 5000-9999 → 5000-9999, 4000-4999 (5000 buckets → 6000 buckets)",
                "checkout/b: removed; its layer buckets 2000-2999 (1000 buckets) are freed",
                "checkout/c: added with layer buckets 4000-5999 (2000 buckets)",
                "checkout/b: variant layout kept while dormant, for its return",
                "checkout: freed buckets 0 buckets → 1000 buckets",
            ])
    }
}
