import AllotCompiler
import AllotCore
import AllotStore
import AllotTestSupport
import Foundation
import Logging

extension Repository {
    /// The sample experiments.
    static var experiments: String { root.appendingPathComponent("experiments").path }
    /// The client scripts of these tests.
    static var clients: String { root.appendingPathComponent("Tests/AllotServerTests/Clients").path }
}

/// Experiments compiled into signed bundles, keys, folders and stores for the edge server's tests.
enum EdgeFixtures {
    /// The key the servers under test trust.
    static let key = SigningKey.generate()
    /// A key nobody trusts.
    static let strangerKey = SigningKey.generate()

    /// A quiet logger (set ALLOT_TEST_LOG=debug to see the server and poller talk).
    static let logger = testLogger

    /// A small project with every attribute and parameter type, overrides, a paused experiment,
    /// targeting, and a layer on a second unit type. `traffic` is the redesign experiment's share.
    static func project(traffic: Int = 100) -> String {
        """
        kind: Attributes
        attributes:
          country: { type: string }
          app_version: { type: semver }
          is_employee: { type: bool }
          cart_value: { type: number }
          tags: { type: list }
        ---
        kind: Layer
        name: checkout
        unit: user_id
        params:
          button_color: { type: string, default: blue }
          express_pay: { type: bool, default: false }
          discount: { type: number, default: 0.5 }
          max_items: { type: number, default: 10 }
          layout: { type: json, default: { columns: 2 } }
          footer: { type: string, default: plain }
        ---
        kind: Experiment
        name: checkout-redesign
        layer: checkout
        owner: test@example.com
        status: running
        traffic: \(traffic)%
        targeting: country in ["US", "CA"]
        variants:
          - name: control
            weight: 50%
          - name: redesign
            weight: 50%
            params: { button_color: green, express_pay: true, discount: 0.75, max_items: 20, layout: { columns: 3 } }
        overrides:
          redesign: [qa-user]
          control: [qa-control]
        ---
        kind: Layer
        name: promotions
        unit: user_id
        params:
          banner: { type: string, default: none }
        ---
        kind: Experiment
        name: banner-test
        layer: promotions
        owner: test@example.com
        status: paused
        traffic: 100%
        variants:
          - name: control
            weight: 50%
          - name: big
            weight: 50%
            params: { banner: big }
        ---
        kind: Layer
        name: rollouts
        unit: user_id
        params:
          new_search: { type: bool, default: false }
        ---
        kind: Experiment
        name: new-search
        layer: rollouts
        owner: test@example.com
        status: running
        traffic: 100%
        targeting: app_version >= "5.0.0" && !is_employee && cart_value > 10 && "beta" in tags
        variants:
          - name: enabled
            weight: 100%
            params: { new_search: true }
        ---
        kind: Layer
        name: onboarding
        unit: device_id
        params:
          tutorial: { type: bool, default: false }
        ---
        kind: Experiment
        name: tutorial
        layer: onboarding
        owner: test@example.com
        status: running
        traffic: 100%
        variants:
          - name: shown
            weight: 100%
            params: { tutorial: true }
        """
    }

    typealias Compiled = Fixture.Compiled

    /// Compiles in-memory experiment files into a signed envelope and its verified bundle.
    static func compile(
        _ yaml: String = project(), version: UInt64 = 1, createdAt: Int64 = 1_764_000_000, key: SigningKey = key
    ) throws -> Compiled {
        try Fixture.seal(
            Compiler.compile(
                files: [SourceFile(path: "experiments/main.yaml", text: yaml)], lock: AllocationLock(), version: version,
                createdAt: createdAt),
            version: version, createdAt: createdAt, key: key)
    }

    /// Compiles the repository's sample experiments (`experiments/`).
    static func compileSamples(version: UInt64 = 1, createdAt: Int64 = 1_764_000_000) throws -> Compiled {
        try Fixture.seal(
            Compiler.compile(directory: Repository.experiments, version: version, createdAt: createdAt), version: version,
            createdAt: createdAt, key: key)
    }

    /// Publishes an envelope to `stores` with the protocol `allot publish` uses.
    @discardableResult
    static func publish(_ envelope: [UInt8], to stores: [any ObjectStore], key: SigningKey = key) async throws -> PublishReport {
        let report = try await Publisher(stores: stores, key: key, logger: logger).publish(envelope: envelope)
        guard report.succeeded else { throw FixtureError(message: "publish failed:\n\(report.text)") }
        return report
    }

    /// Unix seconds now.
    static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
