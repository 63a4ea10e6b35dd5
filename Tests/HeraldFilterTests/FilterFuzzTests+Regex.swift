import Testing

@testable import HeraldFilter

/// Generated regular expressions: compiling and matching each one must take under a second of processor
/// time and a bounded amount of memory, never crash, and agree with a reference matcher where there is one.
extension FilterFuzzTests {
    /// Processor time allowed for compiling one pattern and matching it against every test value. RE2's worst
    /// cases measured here are about 0.3 s (compiling a program near the memory budget) and 35 ms per match
    /// (a DFA that falls back to the NFA); glibc took 15.5 s or crashed.
    static let regexCaseCPULimit = Duration.seconds(1)
    /// Wall clock allowed for the same: looser, since other tests share the two cores; it catches a hang.
    static let regexCaseWallLimit = Duration.seconds(5)
    /// Resident memory one case may add. RE2's budget is 4 MiB per pattern; the rest is slack for what
    /// other tests running in this process allocate meanwhile.
    static let regexCaseMemoryLimit = 64 << 20

    /// Values of up to 256 characters that drive RE2's DFA and NFA hard: ASCII, two- and four-byte
    /// characters, a mix, an almost-match.
    static let regexTexts: [[UInt8]] = [
        "", String(repeating: "a", count: 256), String(repeating: "é", count: 256), String(repeating: "😀", count: 256),
        String(repeating: "aé😀b", count: 64), String(repeating: "a", count: 255) + "!", "k\nK\tk",
    ].map { Array($0.utf8) }

    /// Compiles and matches one pattern within the time and memory limits; returns how it was refused, if it was.
    static func exerciseRegex(_ pattern: String) -> RegexCompileError.Kind? {
        let clock = ContinuousClock()
        let before = ProcessMeasures.residentBytes()
        let cpuBefore = ProcessMeasures.threadCPUTime()
        var refused: RegexCompileError.Kind?
        var grown = 0
        let elapsed = clock.measure {
            switch CompiledRegex.compile(pattern) {
            case .success(let regex):
                for text in regexTexts {
                    _ = text.withUnsafeBufferPointer { regex.matches($0) }
                }
                grown = ProcessMeasures.residentBytes() - before
            case .failure(let error):
                refused = error.kind
                #expect(!error.reason.isEmpty)
            }
        }
        let cpu = ProcessMeasures.threadCPUTime() - cpuBefore
        #expect(cpu < regexCaseCPULimit, "\(pattern.debugDescription) took \(cpu) of processor time")
        #expect(elapsed < regexCaseWallLimit, "\(pattern.debugDescription) took \(elapsed)")
        #expect(grown < regexCaseMemoryLimit, "\(pattern.debugDescription) grew the process by \(grown >> 20) MiB")
        return refused
    }

    /// The issue's family: nested bounded repeats with large counts, alternations, `.*`, large classes.
    @Test(.timeLimit(.minutes(5)), arguments: [UInt64(21), 22, 23])
    func nestedBoundedRepeatsAreRefusedOrRunBounded(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        var compiled = 0
        var refusedForRepeats = 0
        var tooLarge = 0
        let subject = SubjectName.person.subject
        for _ in 0..<200 {
            await Task.yield()  // let other tests have the core between cases
            let regex = GeneratedRegex.pathological(&rng)
            let pattern = regex.pattern
            guard pattern.utf8.count <= CompiledRegex.maxPatternBytes else { continue }
            switch Self.exerciseRegex(pattern) {
            case nil:
                compiled += 1
                #expect(!regex.exceedsRepeatLimits, "\(pattern) compiled")
                // The same pattern through the filter, over every value of a person (one of 256 characters).
                let cpuBefore = ProcessMeasures.threadCPUTime()
                let filter = try ObjectFilter.parse("regexp(attributes, '\(pattern)') or exists(type)")
                #expect(filter.matches(subject))
                _ = filter.explain(subject)
                let cpu = ProcessMeasures.threadCPUTime() - cpuBefore
                #expect(cpu < Self.regexCaseCPULimit, "\(pattern) in a filter took \(cpu) of processor time")
            case .repeatSize?:
                refusedForRepeats += 1
                #expect(regex.exceedsRepeatLimits, "\(pattern) refused for its repeats")
            case .tooLarge?:
                tooLarge += 1
                #expect(!regex.exceedsRepeatLimits, "\(pattern) refused as too large")
            case let other?:
                Issue.record("\(pattern) refused as \(other)")
            }
        }
        // Every outcome must occur, or the generator tests little.
        #expect(compiled > 30 && refusedForRepeats > 30 && tooLarge > 0, "\(compiled) \(refusedForRepeats) \(tooLarge)")
    }

    /// Small patterns over a four-character alphabet (with two- and four-byte characters): RE2 agrees with
    /// the reference on every string of up to six characters tried.
    @Test(.timeLimit(.minutes(5)), arguments: [UInt64(31), 32, 33])
    func smallPatternsAgreeWithTheReference(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        var matched = 0
        var missed = 0
        let letters = GeneratedRegex.alphabet + ["c"]
        for _ in 0..<150 {
            await Task.yield()
            let regex = GeneratedRegex.small(&rng)
            let pattern = regex.pattern
            #expect(Self.exerciseRegex(pattern) == nil, "\(pattern) refused")
            let compiled = try CompiledRegex.compile(pattern).get()
            for length in 0..<7 {
                for _ in 0..<4 {
                    let text = (0..<length).map { _ in rng.pick(letters) }
                    let actual = Array(String(String.UnicodeScalarView(text)).utf8).withUnsafeBufferPointer {
                        compiled.matches($0)
                    }
                    let expected = regex.referenceMatches(text)
                    #expect(
                        actual == expected, "\(pattern) on \(String(String.UnicodeScalarView(text)).debugDescription)")
                    if actual { matched += 1 } else { missed += 1 }
                }
            }
        }
        #expect(matched > 300 && missed > 300, "matched \(matched), missed \(missed)")
    }

    /// Mutated patterns (deletions, insertions of operators and brackets): any of them may be invalid, none
    /// may crash or run long, and every refusal must be a parse error at the pattern.
    @Test(.timeLimit(.minutes(5)))
    func mutatedPatternsCompileOrFailCleanly() async {
        var rng = SeededGenerator(seed: 41)
        let pieces = [
            "(", ")", "[", "]", "{", "}", "{1000}", "{1001}", "{2,1}", "{,3}", "*", "+", "?", "|", "\\", "\\pL", "\\Q",
            "\\E", "^", "$", ".", "(?i)", "(?", "[[:", "[[=", "\\<", "\u{0}", "é", "😀", "\\x{10FFFF}", "\\C", "-",
        ]
        var rejected = 0
        for _ in 0..<400 {
            await Task.yield()
            var chars = Array(GeneratedRegex.pathological(&rng).pattern)
            for _ in 0..<rng.int(1...3) {
                let at = chars.isEmpty ? 0 : rng.int(0...chars.count)
                if rng.chance(0.3) && at < chars.count {
                    chars.remove(at: at)
                } else {
                    chars.insert(contentsOf: rng.pick(pieces), at: at)
                }
            }
            let pattern = String(chars)
            guard pattern.utf8.count <= CompiledRegex.maxPatternBytes, !pattern.contains("'") else { continue }
            if Self.exerciseRegex(pattern) != nil { rejected += 1 }
            let expression = "regexp(attributes.X, '\(pattern)')"
            do {
                _ = try ObjectFilter.parse(expression)
            } catch {
                #expect(error.position >= 21 && error.position <= expression.count, "\(expression): \(error.message)")
                #expect(error.message.contains("position \(error.position)"))
            }
        }
        #expect(rejected > 100, "\(rejected)")
    }
}
