import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotCompiler

/// The "Examples" block of `docs/targeting.md`: every line there must compile.
struct TargetingExamplesTests {
    static let environment: TargetingEnvironment = {
        let types: [(String, AttributeType)] = [
            ("age", .number), ("app_version", .semver), ("client_ip", .ip), ("country", .string), ("email", .string),
            ("is_employee", .bool), ("os_version", .semver), ("role", .string), ("signup_at", .datetime), ("tags", .stringList),
        ]
        var attributes: [String: TargetingEnvironment.Attribute] = [:]
        for (index, (name, type)) in types.enumerated() { attributes[name] = .init(index: index, type: type) }
        return TargetingEnvironment(
            attributes: attributes, unitTypes: ["user_id", "device_id"],
            segments: ["staff": .init(index: 0), "qa-devices": .init(index: 1, unitType: "device_id"), "holdback": .init(index: 2)])
    }()

    @Test func everyDocumentedExampleCompiles() throws {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("docs/targeting.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Examples").last)
        let block = try #require(section.components(separatedBy: "```").dropFirst().first)
        let examples = block.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        #expect(examples.count >= 10)
        for example in examples {
            var pool = TestStringPool()
            let result = Targeting.compile(example, environment: Self.environment, pool: &pool)
            if case .failure(let failure) = result { Issue.record("\(example): \(failure.diagnostics)") }
        }
    }
}
