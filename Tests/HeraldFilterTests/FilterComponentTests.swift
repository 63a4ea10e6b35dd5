import HeraldJSON
import HeraldModel
import Testing

@testable import HeraldFilter

/// The building blocks, each against a plain reference or HeraldModel.
struct FilterComponentTests {
    private static func digits(_ n: Int, _ rng: inout SeededGenerator) -> String {
        String((0..<n).map { _ in rng.pick(Array("0123456789")) })
    }

    @Test func isoDatesAgreeWithHeraldModel() {
        var rng = SeededGenerator(seed: 5)
        var valid = 0
        for _ in 0..<20_000 {
            var s =
                rng.pick(["19", "20", "00"]) + Self.digits(2, &rng) + "-"
                + rng.pick(["01", "02", "06", "12", "13", "00"])
                + "-" + rng.pick(["01", "28", "29", "30", "31", "32"])
            if rng.chance(0.6) {
                s +=
                    rng.pick(["T", " ", "t"]) + rng.pick(["00", "23", "24"]) + ":" + rng.pick(["00", "59", "60"]) + ":"
                    + rng.pick(["00", "60", "61"]) + rng.pick(["", ".5", ".123", ".1234", "."])
                    + rng.pick(["Z", "+02:00", "-05:30", "+0200", "", "z"])
            }
            if rng.chance(0.1) { s = String(s.dropLast()) }
            let expected = isISODate(s) ? parseISODateTime(s + "T00:00:00Z") : parseISODateTime(s)
            let actual = withUTF8Bytes(s) { NumericValue.isoMillis($0) }
            #expect(actual == expected, "\(s)")
            if expected != nil { valid += 1 }
        }
        #expect(valid > 2_000)
    }

    @Test func decimalsAgreeWithDoubleParsing() {
        var rng = SeededGenerator(seed: 6)
        for _ in 0..<20_000 {
            var s = rng.pick(["", "-", "+"]) + Self.digits(rng.int(0...20), &rng)
            if rng.chance(0.5) { s += "." + Self.digits(rng.int(0...20), &rng) }
            if rng.chance(0.3) {
                s += rng.pick(["e", "E"]) + rng.pick(["", "-", "+"]) + Self.digits(rng.int(1...3), &rng)
            }
            let grammatical =
                s.contains { $0.isNumber } && !(s.hasPrefix("+.") || s.hasPrefix("-.") || s.hasPrefix("."))
                || s.wholeMatch(of: /[+-]?\.[0-9]+([eE][+-]?[0-9]+)?/) != nil
            let actual = withUTF8Bytes(s) { NumericValue.decimal($0) }
            if grammatical && s.first(where: { $0.isNumber }) != nil {
                #expect(actual == Double(s), "\(s)")
            }
        }
        for bad in ["", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "0x10", "inf", "nan", " 1", "1 ", "1,5", "١٢"] {
            #expect(withUTF8Bytes(bad) { NumericValue.decimal($0) } == nil, "\(bad)")
        }
        #expect(NumericValue.parse("42") == 42)
        #expect(NumericValue.parse("-3.5") == -3.5)
        #expect(NumericValue.parse("1970-01-02") == 86_400_000)
        #expect(NumericValue.parse("1970-01-01T00:00:01.5Z") == 1_500)
        #expect(NumericValue.parse("12345678901234567890123") == 12345678901234567890123.0)
    }

    @Test func damerauLevenshteinAgreesWithTextbookVersion() {
        var rng = SeededGenerator(seed: 7)
        let alphabet = Array("abcé").map { $0.unicodeScalars.first!.value }
        for _ in 0..<5_000 {
            let a = (0..<rng.int(0...8)).map { _ in rng.pick(alphabet) }
            let b = (0..<rng.int(0...8)).map { _ in rng.pick(alphabet) }
            let pattern = FuzzyPattern(String(String.UnicodeScalarView(b.map { Unicode.Scalar($0)! })))
            let expected = referenceDamerau(a, b)
            #expect(a.withUnsafeBufferPointer { pattern.matches($0) } == (expected <= pattern.maxDistance), "\(a) \(b)")
        }
        // The unrestricted distance counts a transposition with an edit between as 2 (restricted: 3).
        #expect(referenceDamerau(scalars("ca"), scalars("abc")) == 2)
        #expect(scalars("ca").withUnsafeBufferPointer { FuzzyPattern("abc").matches($0) } == false)
        #expect(scalars("abcdef").withUnsafeBufferPointer { FuzzyPattern("bacdfe").matches($0) })
    }

    @Test func wildcardsAgreeWithDynamicProgramming() {
        var rng = SeededGenerator(seed: 8)
        let valueAlphabet = Array("abé*")
        let patternAlphabet = Array("abé*?")
        for _ in 0..<5_000 {
            let value = String((0..<rng.int(0...8)).map { _ in rng.pick(valueAlphabet) })
            let pattern = String((0..<rng.int(0...6)).map { _ in rng.pick(patternAlphabet) })
            let compiled = WildcardPattern(pattern)
            #expect(
                scalars(value).withUnsafeBufferPointer { compiled.matches($0) }
                    == referenceWildcard(scalars(value), scalars(pattern)), "\(value) ~ \(pattern)")
        }
    }

    @Test func onlyTheFirst256CharactersCount() throws {
        func cut(_ s: String) -> Int { withUTF8Bytes(s) { truncatedToLimit($0).count } }
        #expect(cut(String(repeating: "a", count: 256)) == 256)
        #expect(cut(String(repeating: "a", count: 257)) == 256)
        #expect(cut(String(repeating: "é", count: 300)) == 512)
        #expect(cut(String(repeating: "😀", count: 300)) == 1024)
        #expect(cut(String(repeating: "a", count: 255) + "é" + "z") == 257)

        let long = Entity(
            id: "L", type: individualType,
            attributes: [AttributeEntry(name: "Note", values: [simple("n", String(repeating: "é", count: 300))])],
            createdBy: "x", createdTime: 0)
        let subject = FilterSubject(entity: long)
        let upper256 = String(repeating: "É", count: 256)
        #expect(try ObjectFilter.parse("equals(attributes.Note, '\(upper256)')").matches(subject))
        #expect(try !ObjectFilter.parse("equals(attributes.Note, '\(upper256)É')").matches(subject))
        #expect(
            try ObjectFilter.parse("contains(attributes.Note, '\(String(repeating: "?", count: 256))')").matches(
                subject))
        #expect(
            try !ObjectFilter.parse("contains(attributes.Note, '\(String(repeating: "?", count: 257))')").matches(
                subject))
        #expect(try ObjectFilter.parse("regexp(attributes.Note, '(é){256}')").matches(subject))
    }

    @Test func wordSeparatorsAreExactlyTheDocumentedOnes() {
        let separators = Set(" \t\n\r,'@#$;:&%<>()[]*|/\\!?".unicodeScalars.map(\.value) + [0x0B, 0x0C, 0xA0, 0x2003])
        for u in UInt32(0)..<0x3000 where Unicode.Scalar(u) != nil {
            let expected = separators.contains(u) || (u > 0x7F && Unicode.Scalar(u)!.properties.isWhitespace)
            #expect(isWordSeparator(u) == expected, "U+\(String(u, radix: 16))")
        }
        #expect(!isWordSeparator(UInt32(UInt8(ascii: "."))) && !isWordSeparator(UInt32(UInt8(ascii: "-"))))
    }

    @Test func referencedAttributesListPathsAndPositions() throws {
        let filter = try ObjectFilter.parse(
            "equals(attributes.FirstName, 'x') or inSameAttributeValue(exists(attributes.Address.City)) "
                + "and not changes(attributes) and gt(createdTime, 1) and missing(attributes.Address.Zip.Code)")
        let references = filter.referencedAttributes
        #expect(references.map(\.path) == [["FirstName"], ["Address", "City"], ["Address", "Zip", "Code"]])
        #expect(references.map(\.position) == [7, 65, 154])
        for reference in references {
            let text = String(Array(filter.expression)[reference.position...].prefix(11))
            #expect(text == "attributes.")
        }
        #expect(try ObjectFilter.parse("exists(type)").referencedAttributes.isEmpty)
    }

    @Test func explanationShowsEveryNodeAndRendersAsJSON() throws {
        let filter = try ObjectFilter.parse(
            "equals(type, 'Individual') and not (exists(attributes.Nickname) or lt(attributes.Age, 18))")
        let explanation = filter.explain(SubjectName.personOV.subject)
        #expect(explanation.result)
        #expect(explanation.text == filter.expression)
        #expect(
            explanation.children.map(\.text) == [
                "equals(type, 'Individual')", "not (exists(attributes.Nickname) or lt(attributes.Age, 18))",
            ])
        let or = explanation.children[1].children[0]
        #expect(or.text == "(exists(attributes.Nickname) or lt(attributes.Age, 18))")
        #expect(or.children.map(\.result) == [false, false])

        var writer = JSONWriter()
        FilterExplanation(text: "a 'b'", result: true, children: [FilterExplanation(text: "c\"", result: false)])
            .render(into: &writer)
        let json = String(decoding: writer.bytes, as: UTF8.self)
        #expect(
            json == #"{"expression":"a 'b'","result":true,"children":"#
                + #"[{"expression":"c\"","result":false,"children":[]}]}"#)
        #expect(explanation.outline.hasPrefix("true  equals(type, 'Individual') and not"))
    }

    @Test func explanationOfInSameAttributeValueHasOneChildPerValue() throws {
        let filter = try ObjectFilter.parse(
            "inSameAttributeValue(equals(attributes.Address.City, 'Paris') and equals(attributes.Address.Zip, '75001'))"
        )
        let all = filter.explain(SubjectName.person.subject)
        #expect(all.result)
        #expect(all.children.map(\.result) == [true, false, false])
        #expect(all.children[0].text == "value 1 of attributes.Address (id ad1)")
        #expect(all.children[1].children[0].children.map(\.result) == [false, false])
        let ovOnly = filter.explain(SubjectName.personOV.subject)
        #expect(
            ovOnly.children.map(\.text) == [
                "value 1 of attributes.Address (id ad1)", "value 2 of attributes.Address (id ad3)",
            ])
    }

    /// With ovOnly a sub-value counts only when it and its nested value are both operational (survivorship
    /// normally gives sub-values their parent's `ov`, but stored data may differ).
    @Test func ovOnlyNeedsBothTheNestedValueAndTheSubValueOperational() throws {
        func city(_ text: String, ov: Bool) -> AttributeValue { simple(text, text, ov: ov) }
        let entity = Entity(
            id: "N", type: individualType,
            attributes: [
                AttributeEntry(
                    name: "Address",
                    values: [
                        AttributeValue(
                            id: "a1",
                            content: .nested([
                                AttributeEntry(
                                    name: "City", values: [city("Paris", ov: true), city("Lutèce", ov: false)])
                            ]), ov: true),
                        AttributeValue(
                            id: "a2",
                            content: .nested([AttributeEntry(name: "City", values: [city("Lyon", ov: true)])]),
                            ov: false),
                    ])
            ], createdBy: "x", createdTime: 0)
        let all = FilterSubject(entity: entity)
        let ovOnly = FilterSubject(entity: entity, ovOnly: true)
        for (expression, withAll, withOvOnly) in [
            ("equals(attributes.Address.City, 'Paris')", true, true),
            ("equals(attributes.Address.City, 'lutèce')", true, false),
            ("equals(attributes.Address.City, 'Lyon')", true, false),
            ("equals(attributes, 'Lutèce')", true, false),
            ("equals(attributes.Address, 'Lyon')", true, false),
            ("inSameAttributeValue(equals(attributes.Address.City, 'Lutèce'))", true, false),
            ("exists(attributes.Address.City)", true, true),
            ("fullText(attributes.Address.City, 'paris lyon')", true, false),
        ] {
            let filter = try ObjectFilter.parse(expression)
            #expect(filter.matches(all) == withAll, "\(expression)")
            #expect(filter.matches(ovOnly) == withOvOnly, "\(expression) with ovOnly")
        }
    }

    @Test func emptyStringsAreValues() throws {
        let entity = Entity(
            id: "S", type: individualType, attributes: [AttributeEntry(name: "Note", values: [simple("n", "")])],
            createdBy: "", createdTime: 0)
        let subject = FilterSubject(entity: entity)
        #expect(try ObjectFilter.parse("exists(attributes.Note)").matches(subject))
        #expect(try ObjectFilter.parse("equals(attributes.Note, '')").matches(subject))
        #expect(try ObjectFilter.parse("exists(createdBy) and equals(createdBy, '')").matches(subject))
        #expect(try !ObjectFilter.parse("fuzzy(attributes.Note, 'ab')").matches(subject))
        #expect(try ObjectFilter.parse("fuzzy(attributes.Note, 'a')").matches(subject))
        #expect(try !ObjectFilter.parse("gte(attributes.Note, 0)").matches(subject))
    }

    @Test func changesNeedsADelta() throws {
        let filter = try ObjectFilter.parse("changes(attributes.LastName)")
        #expect(!filter.matches(FilterSubject(entity: person)))
        #expect(filter.matches(FilterSubject(entity: person, delta: Delta.between(emptyEntity, person))))
        #expect(!filter.matches(FilterSubject(entity: person, delta: Delta())))
        let crosswalkOnly = Delta(items: [
            DeltaItem(kind: .crosswalkAdded, crosswalk: CrosswalkKey(type: "t", value: "v"))
        ])
        #expect(
            try !ObjectFilter.parse("changes(attributes)").matches(FilterSubject(entity: person, delta: crosswalkOnly)))
    }

    @Test func changesOfASubAttributeComparesNestedContent() throws {
        var moved = person
        moved.attributes[12].values[0] = nested(
            "ad1", [("City", "Paris"), ("Zip", "75001"), ("Street", "1 Rue de Rivoli"), ("Country", "FR")])
        let subject = FilterSubject(entity: moved, delta: Delta.between(person, moved))
        #expect(try ObjectFilter.parse("changes(attributes.Address.Street)").matches(subject))
        #expect(try !ObjectFilter.parse("changes(attributes.Address.City)").matches(subject))
        #expect(try !ObjectFilter.parse("changes(attributes.Address.Street.Number)").matches(subject))
    }

    @Test func filtersCanBeSharedAcrossThreads() async throws {
        let filter = try ObjectFilter.parse(
            "regexp(attributes.Address.Zip, '[0-9]{5}') and fuzzy(attributes.FirstName, 'Jhon')")
        let subject = SubjectName.person.subject
        let results = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var count = 0
                    for _ in 0..<2_000 where filter.matches(subject) { count += 1 }
                    return count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(results == 16_000)
    }

    @Test func subjectDefaultsAndExpressionAreKept() throws {
        let subject = FilterSubject(entity: person)
        #expect(subject.delta == nil && subject.ovOnly == false)
        let text = "  exists(type)  "
        #expect(try ObjectFilter.parse(text).expression == text)
    }
}
