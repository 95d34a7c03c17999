import AllotTestSupport
import Foundation
import Testing

/// `allot schema`, the checked-in docs/experiments.schema.json and the editor setup, checked with
/// real validators: `check-jsonschema` (a CLI a CI job or pre-commit hook would use) and Python's
/// `jsonschema`, document by document as the YAML language server applies it.
@Suite(.serialized)
struct SchemaTests {
    static let schemaFile = Repository.root.appendingPathComponent("docs/experiments.schema.json").path
    static let checker = Repository.root.appendingPathComponent("Tests/Journeys/schema_check.py").path

    struct DocumentResult: Decodable {
        var file: String
        var document: Int
        var line: Int
        var kind: String?
        var errors: [String]
    }

    /// Every document of `files`, validated by Python's jsonschema.
    static func validate(_ files: [String]) async throws -> [DocumentResult] {
        let result = try await runProcess(Moto.python, [checker, schemaFile] + files)
        guard result.status == 0 || result.status == 1 else { throw CLIError(message: "schema_check.py: \(result.output)") }
        return try result.stdout.split(separator: "\n").map { try JSONDecoder().decode(DocumentResult.self, from: Data($0.utf8)) }
    }

    /// `check-jsonschema`, one file per document (it reads single-document YAML only).
    static func checkJSONSchema(_ documents: [String]) async throws -> ProcessResult {
        let folder = Scratch.folder("schema")
        defer { Scratch.remove(folder) }
        var paths: [String] = []
        for (index, text) in documents.enumerated() {
            let path = folder + "/document-\(index).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        guard let executable = which("check-jsonschema") else {
            throw CLIError(message: "check-jsonschema is not installed (scripts/install-deps installs it)")
        }
        return try await runProcess(executable, ["--schemafile", schemaFile] + paths)
    }

    static var sampleFiles: [String] {
        let root = Repository.root.appendingPathComponent("experiments").path
        let enumerator = FileManager.default.enumerator(atPath: root)
        return (enumerator?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".yaml") }.sorted().map { root + "/" + $0 }
    }

    /// The documents of a file, split where the YAML language server splits them.
    static func documents(_ text: String) -> [String] {
        text.components(separatedBy: "\n---\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }

    @Test func theCheckedInSchemaIsWhatAllotPrints() async throws {
        let printed = try await CLI.run(["schema"])
        #expect(printed.status == 0)
        let file = try String(contentsOfFile: Self.schemaFile, encoding: .utf8)
        #expect(printed.stdout == file, "docs/experiments.schema.json is stale: run `allot schema > docs/experiments.schema.json`")
    }

    @Test func theEditorSettingsMapExperimentFilesToIt() throws {
        let data = try Data(contentsOf: Repository.root.appendingPathComponent(".vscode/settings.json"))
        let settings = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let schemas = try #require(settings["yaml.schemas"] as? [String: [String]])
        #expect(schemas["./docs/experiments.schema.json"]?.contains("experiments/**/*.yaml") == true, "\(schemas)")
        for path in schemas.keys {
            #expect(FileManager.default.fileExists(atPath: Repository.root.appendingPathComponent(path).path), "\(path)")
        }
        #expect((settings["[yaml]"] as? [String: Any])?["editor.insertSpaces"] as? Bool == true)
    }

    /// Every document of every sample file is valid, for both validators.
    @Test func sampleFilesAreValid() async throws {
        let results = try await Self.validate(Self.sampleFiles)
        #expect(results.count >= 17, "\(results.count) documents")
        for result in results { #expect(result.errors.isEmpty, "\(result.file) document \(result.document): \(result.errors)") }
        let documents = try Self.sampleFiles.flatMap { Self.documents(try String(contentsOfFile: $0, encoding: .utf8)) }
        #expect(documents.count == results.count)
        let checked = try await Self.checkJSONSchema(documents)
        #expect(checked.status == 0, "\(checked.output)")
    }

    static let typos: [(kind: String, correct: String, typo: String, key: String)] = [
        ("Experiment", "traffic: 20%", "trafic: 20%", "trafic"),
        ("Layer", "unit: user_id", "units: user_id", "units"),
        ("Segment", "rule: is_employee", "rules: is_employee", "rules"),
        ("Holdout", "traffic: 5%", "trafic: 5%", "trafic"),
        ("Attributes", "  is_employee: bool", "  is_employee: bool\nattribute: {}", "attribute"),
    ]

    static let validDocuments: [String: String] = [
        "Experiment": "kind: Experiment\nname: x\nlayer: checkout\nowner: o@example.com\nstatus: running\nstart: 2026-11-01T00:00:00Z\n"
            + "traffic: 20%\nvariants:\n  - { name: a, weight: 100% }\n",
        "Layer": "kind: Layer\nname: checkout\nunit: user_id\nparams:\n  color: { type: string, default: blue }\n",
        "Segment": "kind: Segment\nname: staff\nrule: is_employee\n",
        "Holdout": "kind: Holdout\nname: h\nunit: user_id\ntraffic: 5%\n",
        "Attributes": "kind: Attributes\nattributes:\n  is_employee: bool\n",
    ]

    /// A misspelled key is reported as the unexpected key it is, whatever the kind; never as a
    /// failed alternative of another kind ("'attributes' is a required property").
    @Test func aTypoIsAnUnexpectedKey() async throws {
        let valid = Self.typos.map { Self.validDocuments[$0.kind]! }
        let broken = Self.typos.map { Self.validDocuments[$0.kind]!.replacingOccurrences(of: $0.correct, with: $0.typo) }
        #expect(zip(valid, broken).allSatisfy { $0 != $1 })
        let checkedValid = try await Self.checkJSONSchema(valid)
        #expect(checkedValid.status == 0, "\(checkedValid.output)")
        let checked = try await Self.checkJSONSchema(broken)
        #expect(checked.status == 1)
        for (index, typo) in Self.typos.enumerated() {
            let lines = checked.stdout.split(separator: "\n").filter { $0.contains("document-\(index).yaml::") }
            #expect(
                lines.contains { $0.contains("Additional properties are not allowed ('\(typo.key)' was unexpected)") },
                "\(typo.kind): \(checked.output)")
            if typo.kind != "Attributes" { #expect(!lines.contains { $0.contains("'attributes' is a required property") }, "\(lines)") }
        }

        // In a multi-document file, a typo in the second document is found in that document.
        let folder = Scratch.folder("schema")
        defer { Scratch.remove(folder) }
        var files: [String] = []
        for (index, text) in broken.enumerated() {
            files.append(folder + "/two-\(index).yaml")
            try ("kind: Layer\nname: other\nunit: user_id\n---\n" + text).write(toFile: files.last!, atomically: true, encoding: .utf8)
        }
        let results = try await Self.validate(files)
        for (index, typo) in Self.typos.enumerated() {
            let documents = results.filter { $0.file == files[index] }
            #expect(documents.map(\.errors.isEmpty) == [true, false], "\(typo.kind): \(documents.map(\.errors))")
            #expect(documents.last?.line == 5)
            // (A misspelled required key is also reported as missing.)
            #expect(
                documents.last?.errors.contains("Additional properties are not allowed ('\(typo.key)' was unexpected)") == true,
                "\(typo.kind): \(documents.map(\.errors))")
        }
    }

    @Test func anUnknownKindIsNamed() async throws {
        let checked = try await Self.checkJSONSchema(["kind: Experimnt\nname: x\n"])
        #expect(checked.status == 1)
        #expect(
            checked.stdout.contains("'Experimnt' is not one of ['Attributes', 'Layer', 'Experiment', 'Segment', 'Holdout', 'Metric']"),
            "\(checked.output)")
    }

    /// The schema and the compiler agree on keys: every golden malformed project the compiler
    /// rejects for an unknown key, the schema rejects too.
    @Test func unknownKeysTheCompilerRefusesTheSchemaRefuses() async throws {
        let golden = Repository.root.appendingPathComponent("Tests/AllotCompilerTests/Golden/diagnostics")
        var checkedCases = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: golden.path).sorted() {
            let expected = (try? String(contentsOf: golden.appendingPathComponent("\(name)/expected.txt"), encoding: .utf8)) ?? ""
            guard expected.contains("error: unknown key") else { continue }
            let files = try FileManager.default.contentsOfDirectory(atPath: golden.appendingPathComponent(name).path)
                .filter { $0.hasSuffix(".yaml") }.map { golden.appendingPathComponent("\(name)/\($0)").path }
            let results = try await Self.validate(files)
            #expect(results.contains { $0.errors.contains { $0.contains("was unexpected") } }, "\(name): \(results.map(\.errors))")
            checkedCases += 1
        }
        #expect(checkedCases >= 1)
    }
}
