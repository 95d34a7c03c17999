import AllotCore

/// A targeting expression compiled for a bundle.
public struct CompiledTargeting: Sendable {
    /// The bytecode, `TargetingOpcode` instructions.
    public var code: [UInt8]
    /// The checked expression in canonical form.
    public var expression: TargetingExpression
    /// The segments the expression uses, sorted and unique.
    public var referencedSegments: [String]
    /// The attributes the expression uses, sorted and unique.
    public var referencedAttributes: [String]

    public init(code: [UInt8], expression: TargetingExpression, referencedSegments: [String], referencedAttributes: [String]) {
        self.code = code
        self.expression = expression
        self.referencedSegments = referencedSegments
        self.referencedAttributes = referencedAttributes
    }
}

/// The targeting expression compiler: lexer, parser, type checker and code generator behind one
/// entry point. The language is specified in `docs/targeting.md`.
public enum TargetingCompiler {
    /// Parses, checks and compiles `source`.
    ///
    /// - Parameters:
    ///   - locate: maps a Unicode-scalar offset within `source` (from 0 to its length inclusive,
    ///     the length meaning the end of the expression) to its place in the file.
    ///   - intern: adds a string to the bundle's string pool and returns its reference. Called in
    ///     a deterministic order; never called for the empty string, which is encoded `(0, 0)`.
    /// - Returns: the compiled expression, or every error found, sorted by location.
    public static func compile(
        _ source: String, environment: TargetingEnvironment, locate: (Int) -> SourceLocation,
        intern: (String) -> (offset: UInt32, length: UInt32)
    ) -> Result<CompiledTargeting, CompilationFailed> {
        let expression: TargetingExpression
        switch check(source, environment: environment, locate: locate) {
        case .failure(let failure): return .failure(failure)
        case .success(let checked): expression = checked
        }
        switch TargetingCodeGenerator.generate(expression, environment: environment, intern: intern) {
        case .failure(let failure):
            let location = wholeExpression(source, locate)
            return .failure(CompilationFailed([Diagnostic(.error, at: location, "cannot compile targeting: \(failure.message)")]))
        case .success(let code):
            return .success(
                CompiledTargeting(
                    code: code, expression: expression, referencedSegments: expression.referencedSegments,
                    referencedAttributes: expression.referencedAttributes))
        }
    }

    /// Parses and checks `source` without generating code, for tools. Succeeds exactly when
    /// `compile` would (given an environment whose indices fit the bytecode).
    public static func check(_ source: String, environment: TargetingEnvironment, locate: (Int) -> SourceLocation)
        -> Result<TargetingExpression, CompilationFailed>
    {
        withoutActuallyEscaping(locate) { locate in
            var diagnostics = TargetingDiagnostics(locate: locate)
            let syntax = TargetingParser.parse(source, diagnostics: &diagnostics)
            var checker = TargetingTypeChecker(environment: environment, source: source, diagnostics: diagnostics)
            let expression = checker.check(syntax)
            diagnostics = checker.diagnostics
            if !diagnostics.hasErrors, let expression {
                let size = TargetingCodeGenerator.size(of: expression, environment: environment)
                if size > TargetingLimits.maxProgramLength {
                    diagnostics.error(
                        TargetingSpan(offset: 0, length: source.unicodeScalars.count),
                        "targeting compiles to \(size) bytes of bytecode; at most \(TargetingLimits.maxProgramLength) are allowed",
                        hint: "move long lists into segments, or split the experiment")
                }
            }
            guard !diagnostics.hasErrors, let expression else {
                var bag = DiagnosticBag()
                bag.append(contentsOf: diagnostics.diagnostics)
                if !bag.hasErrors {
                    bag.error(at: wholeExpression(source, locate), "targeting expression could not be checked")
                }
                return .failure(CompilationFailed(bag.sorted))
            }
            return .success(expression)
        }
    }

    /// Whether an attribute, unit type or segment named `name` can be referred to (bare when it
    /// is an identifier that is not a keyword, otherwise in backticks).
    public static func canReference(_ name: String) -> Bool {
        TargetingLexer.isReferenceable(name)
    }

    /// `name` as a targeting expression writes it: bare, or in backticks when it is a keyword or
    /// not an identifier (`` `5g` ``).
    public static func spelling(of name: String) -> String {
        TargetingText.name(name)
    }

    private static func wholeExpression(_ source: String, _ locate: (Int) -> SourceLocation) -> SourceLocation {
        var location = locate(0)
        location.length = max(1, source.unicodeScalars.count)
        return location
    }
}
