import HeraldJSON
import HeraldModel
import Testing

@testable import HeraldFilter

/// Laws that must hold for any filter and entity, checked on seeded random entities and expressions.
struct FilterPropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 42]

    /// Subjects and filters for one seed: 100 subjects × 25 filters per seed.
    static func sample(seed: UInt64) -> (subjects: [FilterSubject], filters: [(GeneratedFilter, ObjectFilter)]) {
        var entities = EntityGenerator(rng: SeededGenerator(seed: seed))
        let subjects = (0..<100).map { _ in entities.subject() }
        var rng = SeededGenerator(seed: seed &* 7919)
        let filters = (0..<25).map { _ -> (GeneratedFilter, ObjectFilter) in
            let generated = randomFilter(&rng)
            do {
                return (generated, try ObjectFilter.parse(generated.description))
            } catch {
                Issue.record("generated filter does not parse: \(generated): \(error)")
                return (generated, try! ObjectFilter.parse("exists(type)"))
            }
        }
        return (subjects, filters)
    }

    private static func parse(_ text: String) -> ObjectFilter {
        do {
            return try ObjectFilter.parse(text)
        } catch {
            Issue.record("does not parse: \(text): \(error)")
            return try! ObjectFilter.parse("exists(type)")
        }
    }

    @Test(arguments: seeds)
    func matchesAgreesWithNaiveReference(seed: UInt64) {
        let (subjects, filters) = Self.sample(seed: seed)
        var trues = 0
        var falses = 0
        for (generated, filter) in filters {
            for subject in subjects {
                let actual = filter.matches(subject)
                let expected = generated.reference(subject)
                #expect(actual == expected, "\(generated) on \(subject.entity), ovOnly \(subject.ovOnly)")
                if actual { trues += 1 } else { falses += 1 }
            }
        }
        // The sample must exercise both outcomes, or the comparison proves little.
        #expect(trues > 100 && falses > 100)
    }

    @Test(arguments: seeds)
    func leafOperatorsAgreeWithNaiveReference(seed: UInt64) {
        var entities = EntityGenerator(rng: SeededGenerator(seed: seed))
        let subjects = (0..<100).map { _ in entities.subject() }
        var rng = SeededGenerator(seed: seed &+ 99)
        for _ in 0..<300 {
            let leaf = GeneratedLeaf.random(&rng)
            let filter = Self.parse(leaf.text)
            for subject in subjects {
                #expect(filter.matches(subject) == leaf.reference(subject, scope: nil), "\(leaf.text)")
            }
        }
    }

    @Test(arguments: seeds)
    func logicalLaws(seed: UInt64) {
        let (subjects, filters) = Self.sample(seed: seed)
        for i in 0..<(filters.count - 1) {
            let a = filters[i].0.description
            let b = filters[i + 1].0.description
            let c = filters[(i + 2) % filters.count].0.description
            let fa = Self.parse(a)
            let notA = Self.parse("not(\(a))")
            let notNotA = Self.parse("not not (\(a))")
            let aAndB = Self.parse("(\(a)) and (\(b))")
            let bAndA = Self.parse("(\(b)) and (\(a))")
            let aOrB = Self.parse("(\(a)) or (\(b))")
            let bOrA = Self.parse("(\(b)) or (\(a))")
            let notAAndB = Self.parse("not ((\(a)) and (\(b)))")
            let notAOrNotB = Self.parse("not (\(a)) or not (\(b))")
            let notAOrB = Self.parse("not ((\(a)) or (\(b)))")
            let notAAndNotB = Self.parse("not (\(a)) and not (\(b))")
            let aAndA = Self.parse("(\(a)) and (\(a))")
            let aOrA = Self.parse("(\(a)) or (\(a))")
            let distributed = Self.parse("(\(a)) and ((\(b)) or (\(c)))")
            let expanded = Self.parse("((\(a)) and (\(b))) or ((\(a)) and (\(c)))")
            for s in subjects {
                let x = fa.matches(s)
                #expect(notA.matches(s) == !x, "not: \(a)")
                #expect(notNotA.matches(s) == x, "double negation: \(a)")
                #expect(aAndB.matches(s) == bAndA.matches(s), "and commutes: \(a) / \(b)")
                #expect(aOrB.matches(s) == bOrA.matches(s), "or commutes: \(a) / \(b)")
                #expect(notAAndB.matches(s) == notAOrNotB.matches(s), "De Morgan (and): \(a) / \(b)")
                #expect(notAOrB.matches(s) == notAAndNotB.matches(s), "De Morgan (or): \(a) / \(b)")
                #expect(aAndA.matches(s) == x && aOrA.matches(s) == x, "idempotence: \(a)")
                #expect(distributed.matches(s) == expanded.matches(s), "distributivity: \(a) / \(b) / \(c)")
            }
        }
    }

    @Test(arguments: seeds)
    func explainAgreesWithMatches(seed: UInt64) throws {
        let (subjects, filters) = Self.sample(seed: seed)
        for (generated, filter) in filters {
            for subject in subjects {
                let explanation = filter.explain(subject)
                #expect(explanation.result == filter.matches(subject), "\(generated)")
                #expect(Self.isConsistent(explanation), "\(generated)")
                var writer = JSONWriter()
                explanation.render(into: &writer)
                let json = try JSONParser.parse(String(decoding: writer.bytes, as: UTF8.self))
                #expect(json["result"]?.boolValue == explanation.result)
            }
        }
    }

    /// Each explained sub-expression must parse on its own and give the same result as shown
    /// (outside inSameAttributeValue, whose inner results depend on the value tried).
    @Test(arguments: seeds)
    func explainedSubExpressionsReparse(seed: UInt64) throws {
        let (subjects, filters) = Self.sample(seed: seed)
        for (_, filter) in filters.prefix(10) {
            for subject in subjects.prefix(20) {
                var pending = [filter.explain(subject)]
                while let node = pending.popLast() {
                    guard !node.text.hasPrefix("inSameAttributeValue") else { continue }
                    let again = try ObjectFilter.parse(node.text)
                    #expect(again.matches(subject) == node.result, "\(node.text)")
                    pending.append(contentsOf: node.children)
                }
            }
        }
    }

    /// and/or nodes combine their children, not negates its child.
    static func isConsistent(_ e: FilterExplanation) -> Bool {
        guard e.children.allSatisfy(isConsistent) else { return false }
        if e.text.hasPrefix("not") && e.children.count == 1 { return e.result == !e.children[0].result }
        return true
    }

    @Test(arguments: seeds)
    func positiveConditionsOnlyLoseMatchesUnderOvOnly(seed: UInt64) {
        var entities = EntityGenerator(rng: SeededGenerator(seed: seed))
        var rng = SeededGenerator(seed: seed &+ 5)
        var narrowed = 0
        for _ in 0..<200 {
            let subject = entities.subject()
            var leaf = GeneratedLeaf.random(&rng)
            if leaf.op == "missing" { leaf.op = "exists" }
            let filter = Self.parse(leaf.text)
            var all = subject
            all.ovOnly = false
            var ovOnly = subject
            ovOnly.ovOnly = true
            if filter.matches(ovOnly) { #expect(filter.matches(all), "\(leaf.text)") }
            if filter.matches(all) && !filter.matches(ovOnly) { narrowed += 1 }
        }
        #expect(narrowed > 0)
    }

    @Test(arguments: seeds)
    func sameValueOfOneConditionIsThatCondition(seed: UInt64) {
        var entities = EntityGenerator(rng: SeededGenerator(seed: seed))
        var rng = SeededGenerator(seed: seed &+ 11)
        for _ in 0..<200 {
            let subject = entities.subject()
            let op = rng.pick(["equals", "startsWith", "contains", "fuzzy", "in"])
            let property = rng.pick(["attributes.Address.City", "attributes.Address.Zip"])
            let literal = rng.pick(generatedLiterals + ["75001", "7*"])
            let leaf = GeneratedLeaf(op: op, property: property, literals: [literal]).text
            let plain = Self.parse(leaf)
            let scoped = Self.parse("inSameAttributeValue(\(leaf))")
            #expect(plain.matches(subject) == scoped.matches(subject), "\(leaf)")
        }
    }
}
