import AllotCompiler
import AllotCore
import AllotTestSupport
import Testing

/// AllotCore is a library others link: its public entry points that take an index or an
/// `Outcome` check it against the bundle and trap with a message, instead of reading outside the
/// payload. Each case runs in a child process (an exit test) that must fail.
struct IndexCheckTests {
    /// A small bundle: 4 parameters, 5 attributes, one experiment with two variants.
    static func bundle() throws -> LoadedBundle {
        try Fixture.compile(EvaluatorTests.base + EvaluatorTests.experiment("a", traffic: "100%")).bundle
    }

    @Test func inRangeIndicesAndOwnOutcomesWork() throws {
        let bundle = try Self.bundle()
        #expect(bundle.payload.parameterCount == 4 && bundle.payload.attributeCount == 5)
        for index in 0..<bundle.payload.parameterCount {
            _ = (bundle.parameterName(index), bundle.parameterType(index), bundle.parameterLayer(index))
        }
        #expect(bundle.attributeName(4) == "tags" && bundle.attributeType(4) == .stringList)
        var outcomes: [Outcome] = []
        var input = EvaluationInput(for: bundle)
        try input.set(units: ["user_id": "u1"], attributes: [:], bundle: bundle)
        bundle.evaluate(input, now: 0, into: &outcomes)
        #expect(bundle.assignment(for: outcomes[0]).experiment == "a")
        #expect(bundle.paramsLength(outcomes) > 0)
    }

    @Test func parameterIndicesAreChecked() async {
        await #expect(processExitsWith: .failure) { _ = try IndexCheckTests.bundle().parameterName(4) }
        await #expect(processExitsWith: .failure) { _ = try IndexCheckTests.bundle().parameterName(-1) }
        await #expect(processExitsWith: .failure) { _ = try IndexCheckTests.bundle().parameterType(4) }
        await #expect(processExitsWith: .failure) { _ = try IndexCheckTests.bundle().parameterLayer(Int.max) }
        await #expect(processExitsWith: .failure) { _ = try IndexCheckTests.bundle().parameterValueJSON(4, outcome: nil) }
    }

    @Test func attributeIndicesAreChecked() async {
        await #expect(processExitsWith: .failure) { _ = try IndexCheckTests.bundle().attributeType(5) }
        await #expect(processExitsWith: .failure) { _ = try IndexCheckTests.bundle().attributeName(-1) }
    }

    @Test func outcomesOfAnotherBundleAreChecked() async {
        // Experiment 3 and variant 7 do not exist in the small bundle.
        await #expect(processExitsWith: .failure) {
            _ = try IndexCheckTests.bundle().assignment(for: Outcome(layer: 0, experiment: 3, variant: 0, reason: .split))
        }
        await #expect(processExitsWith: .failure) {
            var output: [UInt8] = []
            try IndexCheckTests.bundle().writeAnswer([Outcome(layer: 0, experiment: 0, variant: 7, reason: .split)], into: &output)
        }
        await #expect(processExitsWith: .failure) {
            _ = try IndexCheckTests.bundle().paramsLength([Outcome(layer: 9, experiment: 0, variant: 0, reason: .split)])
        }
        await #expect(processExitsWith: .failure) {
            _ = try IndexCheckTests.bundle().parameterValueJSON(0, outcome: Outcome(layer: 0, experiment: 0, variant: -2, reason: .split))
        }
    }
}
