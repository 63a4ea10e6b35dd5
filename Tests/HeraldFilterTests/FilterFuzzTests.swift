import Testing

@testable import HeraldFilter

/// Random and mutated expressions: the parser must never crash or hang, and every rejection must
/// point inside the expression.
struct FilterFuzzTests {
    static let pieces: [String] = [
        " ", "(", ")", ",", "'", "''", "\"", "and", "or", "not", "AND", "Or", "NOT ", "equals(", "in(", "range(",
        "regexp(", "fuzzy(", "contains(", "exists(", "changes(", "inSameAttributeValue(", "attributes", "attributes.",
        "attributes.Address.City", "attributes.FirstName", "type", "crosswalks.type", "uri", ".", "-", "+", "*", "?",
        "é", "\n", "\t", "9", "-1.5", "1e", "1e5", ".5", "'John'", "'a''b'", "'[0-9'", "'2020-01-31'", "'*x?'", "$",
        "\\", "😀", "\u{0}", "=", "&&", "||", "!", "x",
    ]

    static let seeds: [String] = {
        evaluationCases.map(\.expression).filter { $0.count < 400 }
            + parseErrorCases.map(\.expression)
            .filter { $0.count < 400 }
    }()

    /// Parses `expression`; if it parses, evaluates and explains it. Returns whether it parsed.
    static func exercise(_ expression: String) -> Bool {
        do {
            let filter = try ObjectFilter.parse(expression)
            for name in [SubjectName.person, .personDeltaOV, .empty] {
                let subject = name.subject
                if filter.explain(subject).result != filter.matches(subject) {
                    Issue.record("explain disagrees with matches for \(expression)")
                }
            }
            for reference in filter.referencedAttributes
            where reference.position < 0 || reference.position >= expression.count || reference.path.isEmpty {
                Issue.record("bad attribute reference \(reference) in \(expression)")
            }
            return true
        } catch {
            if error.position < 0 || error.position > expression.count || error.message.isEmpty
                || error.expected.isEmpty
            {
                Issue.record("bad error for \(expression.debugDescription): \(error.position) \(error.message)")
            }
            return false
        }
    }

    static func mutate(_ expression: String, _ rng: inout SeededGenerator) -> String {
        var chars = Array(expression)
        if rng.chance(0.3) {  // edits that keep a valid expression valid, so evaluation is fuzzed too
            switch rng.int(0...3) {
            case 0: return "not " + expression
            case 1: return "(" + expression + ")"
            case 2: return expression + rng.pick([" and ", " or ", " AND ", "\nor "]) + rng.pick(Self.seeds)
            default: return expression.replacing(" and ", with: " AND ")
            }
        }
        for _ in 0..<rng.int(1...4) {
            let at = chars.isEmpty ? 0 : rng.int(0...chars.count)
            switch rng.int(0...5) {
            case 0 where !chars.isEmpty:  // delete a run
                let end = min(chars.count, at + rng.int(1...5))
                chars.removeSubrange(min(at, end)..<end)
            case 1:  // insert a piece
                chars.insert(contentsOf: rng.pick(pieces), at: at)
            case 2 where at < chars.count:  // replace a character
                chars[at] = rng.pick(Array("()',. aéz019*?\"-_"))
            case 3:  // truncate
                chars = Array(chars.prefix(at))
            case 4 where chars.count > 2:  // duplicate a slice
                let start = rng.int(0...(chars.count - 1))
                let end = min(chars.count, start + rng.int(1...20))
                chars.insert(contentsOf: Array(chars[start..<end]), at: at)
            default:  // swap two characters
                if chars.count > 1 {
                    let other = rng.int(0...(chars.count - 1))
                    chars.swapAt(min(at, chars.count - 1), other)
                }
            }
        }
        return String(chars)
    }

    @Test(.timeLimit(.minutes(3)), arguments: [UInt64(1), 2, 3, 4])
    func mutatedExpressionsParseOrFailCleanly(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let seeds = Self.seeds
        var parsed = 0
        var rejected = 0
        for _ in 0..<2_500 {
            if Self.exercise(Self.mutate(rng.pick(seeds), &rng)) { parsed += 1 } else { rejected += 1 }
        }
        // Both outcomes must occur often, or the run tests little.
        #expect(parsed > 500 && rejected > 1_000, "parsed \(parsed), rejected \(rejected)")
    }

    @Test(.timeLimit(.minutes(3)), arguments: [UInt64(10), 11])
    func randomTokenSoupParsesOrFailsCleanly(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var rejected = 0
        for _ in 0..<2_500 {
            let expression = (0..<rng.int(0...12)).map { _ in rng.pick(Self.pieces) }.joined()
            if !Self.exercise(expression) { rejected += 1 }
        }
        #expect(rejected > 2_000)
    }

    @Test(.timeLimit(.minutes(3)))
    func pathologicalInputsFailFast() {
        let inputs = [
            String(repeating: "(", count: 100_000),
            String(repeating: "not ", count: 50_000) + "exists(type)",
            String(repeating: "inSameAttributeValue(", count: 10_000),
            "equals(type, '" + String(repeating: "x", count: 100_000),
            String(repeating: ")", count: 10_000),
            String(repeating: "'", count: 10_001),
            "in(type" + String(repeating: ", 'a'", count: 20_000) + ")",
        ]
        for input in inputs {
            _ = Self.exercise(input)
        }
        #expect(throws: FilterParseError.self) { try ObjectFilter.parse(inputs[0]) }
        #expect((try? ObjectFilter.parse(inputs[6])) != nil)
    }
}
