@testable import HeraldFilter

/// A generated regular expression: rendered in RE2 syntax, and matched by a small reference that follows
/// the set of reachable positions (exact for regular languages, polynomial on short inputs).
indirect enum GeneratedRegex: Sendable {
    case literal(Unicode.Scalar)
    /// `.` (which also matches a newline).
    case any
    /// A bracket class of single characters, e.g. `[ab]`, `[^é]`.
    case set([Unicode.Scalar], negated: Bool)
    /// A named class that the reference does not model (`\pL`, `\w`); only for the no-crash runs.
    case named(String)
    case concat([GeneratedRegex])
    case alternation([GeneratedRegex])
    /// `x*`, `x+`, `x?` (max nil: unbounded) or `x{m}`, `x{m,}`, `x{m,n}`.
    case repetition(GeneratedRegex, min: Int, max: Int?, braces: Bool)

    /// The characters of the small alphabet (none of them special to the filter language or RE2).
    static let alphabet: [Unicode.Scalar] = ["a", "b", "é", "😀"]

    var pattern: String {
        switch self {
        case .literal(let c): return String(c)
        case .any: return "."
        case .set(let members, let negated):
            return "[" + (negated ? "^" : "") + String(String.UnicodeScalarView(members)) + "]"
        case .named(let name): return name
        case .concat(let items): return items.map { $0.atom(inConcat: true) }.joined()
        case .alternation(let items): return items.map(\.pattern).joined(separator: "|")
        case .repetition(let child, let min, let max, let braces):
            let operand = child.atom(inConcat: false)
            if !braces {
                switch (min, max) {
                case (0, nil): return operand + "*"
                case (1, nil): return operand + "+"
                default: return operand + "?"
                }
            }
            if let max { return operand + (min == max ? "{\(min)}" : "{\(min),\(max)}") }
            return operand + "{\(min),}"
        }
    }

    /// The pattern, grouped where an operator would otherwise bind to part of it.
    private func atom(inConcat: Bool) -> String {
        switch self {
        case .literal, .any, .set, .named: return pattern
        case .concat(let items) where items.count == 1 && inConcat: return pattern
        case .concat, .alternation: return "(" + pattern + ")"
        case .repetition: return inConcat ? pattern : "(?:" + pattern + ")"
        }
    }

    /// Whether RE2 must refuse it for its repeat counts: a count over 1000, or nested counts that divide
    /// 1000 down to 0 (RE2's RepetitionWalker: each `{m,n}` divides by n, or by m when unbounded).
    var exceedsRepeatLimits: Bool {
        func budget(_ node: GeneratedRegex, _ parent: Int) -> Int? {
            switch node {
            case .literal, .any, .set, .named: return parent
            case .concat(let items), .alternation(let items):
                var least = parent
                for item in items {
                    guard let b = budget(item, parent) else { return nil }
                    least = Swift.min(least, b)
                }
                return least
            case .repetition(let child, let min, let max, let braces):
                guard braces else { return budget(child, parent) }
                if min > 1000 || (max ?? 0) > 1000 { return nil }
                let m = max ?? min
                return budget(child, m > 0 ? parent / m : parent)
            }
        }
        guard let b = budget(self, 1000) else { return true }
        return b == 0
    }

    /// Whether the whole of `text` matches (the reference; `.named` is not modelled).
    func referenceMatches(_ text: [Unicode.Scalar]) -> Bool {
        ends(text, from: [0]).contains(text.count)
    }

    private func ends(_ text: [Unicode.Scalar], from starts: Set<Int>) -> Set<Int> {
        switch self {
        case .literal(let c): return Set(starts.filter { $0 < text.count && text[$0] == c }.map { $0 + 1 })
        case .any: return Set(starts.filter { $0 < text.count }.map { $0 + 1 })
        case .set(let members, let negated):
            return Set(starts.filter { $0 < text.count && members.contains(text[$0]) != negated }.map { $0 + 1 })
        case .named: preconditionFailure("the reference does not model \(pattern)")
        case .concat(let items): return items.reduce(starts) { $1.ends(text, from: $0) }
        case .alternation(let items):
            return items.reduce(into: Set<Int>()) { $0.formUnion($1.ends(text, from: starts)) }
        case .repetition(let child, let min, let max, _):
            var current = starts
            for _ in 0..<min { current = child.ends(text, from: current) }
            var reached = current
            var count = min
            // ends() distributes over union, so once an iteration adds nothing new, no later one can.
            while max.map({ count < $0 }) ?? true {
                let next = child.ends(text, from: current)
                if next.isSubset(of: reached) { break }
                reached.formUnion(next)
                current = next
                count += 1
            }
            return reached
        }
    }

    // MARK: - Generators

    /// Small patterns over `alphabet` with small counts: the reference can check every answer.
    static func small(_ rng: inout SeededGenerator, depth: Int = 0) -> GeneratedRegex {
        let leaf = depth >= 3 || rng.chance(0.35)
        if leaf {
            switch rng.int(0...5) {
            case 0: return .any
            case 1, 2:
                let members = Array(Set((0..<rng.int(1...3)).map { _ in rng.pick(alphabet) }))
                return .set(members.sorted { $0.value < $1.value }, negated: rng.chance(0.3))
            default: return .literal(rng.pick(alphabet))
            }
        }
        switch rng.int(0...4) {
        case 0, 1: return .concat((0..<rng.int(1...3)).map { _ in small(&rng, depth: depth + 1) })
        case 2: return .alternation((0..<rng.int(2...3)).map { _ in small(&rng, depth: depth + 1) })
        default:
            let child = small(&rng, depth: depth + 1)
            switch rng.int(0...5) {
            case 0: return .repetition(child, min: 0, max: nil, braces: false)
            case 1: return .repetition(child, min: 1, max: nil, braces: false)
            case 2: return .repetition(child, min: 0, max: 1, braces: false)
            case 3: return .repetition(child, min: rng.int(0...3), max: nil, braces: true)
            default:
                let min = rng.int(0...3)
                return .repetition(child, min: min, max: min + rng.int(0...2), braces: true)
            }
        }
    }

    /// Nested bounded repeats with large counts, alternations and large classes, like the issue's.
    static func pathological(_ rng: inout SeededGenerator, depth: Int = 0) -> GeneratedRegex {
        let counts = [0, 1, 2, 3, 10, 30, 100, 255, 999, 1000, 1001, 32767]
        if depth >= 4 || (depth > 0 && rng.chance(0.25)) {
            switch rng.int(0...7) {
            case 0: return .any
            case 1, 2: return .named(rng.pick(["\\pL", "\\w", "\\d", "[^x]", "\\PL", "[[:alpha:]]", "(?i:k)", "\\s"]))
            case 3: return .repetition(.any, min: 0, max: nil, braces: false)
            default: return .literal(rng.pick(alphabet))
            }
        }
        switch rng.int(0...5) {
        case 0: return .concat((0..<rng.int(2...3)).map { _ in pathological(&rng, depth: depth + 1) })
        case 1: return .alternation((0..<rng.int(2...4)).map { _ in pathological(&rng, depth: depth + 1) })
        default:
            let child = pathological(&rng, depth: depth + 1)
            switch rng.int(0...5) {
            case 0: return .repetition(child, min: 0, max: nil, braces: false)
            case 1: return .repetition(child, min: rng.pick(counts), max: nil, braces: true)
            case 2: return .repetition(child, min: rng.pick(counts), max: nil, braces: true)
            default:
                let a = rng.pick(counts)
                let b = rng.pick(counts)
                return .repetition(child, min: Swift.min(a, b), max: Swift.max(a, b), braces: true)
            }
        }
    }
}
