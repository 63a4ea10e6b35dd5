import HeraldModel
import Testing

@testable import HeraldFilter

/// `ObjectFilter.decodeScope`: what a filter reads of an entity. Delivery decodes only that much of a queued
/// snapshot before testing it, so a filter must answer the same on the partial entity as on the whole one.
struct DecodeScopeTests {
    private static func scope(_ expression: String) throws -> EntityDecodeScope {
        try ObjectFilter.parse(expression).decodeScope
    }

    @Test func namesTheAttributesAndCrosswalksTheFilterReads() throws {
        #expect(try Self.scope("equals(type, 'Individual')") == EntityDecodeScope(attributes: [], crosswalks: false))
        #expect(
            try Self.scope("equals(attributes.LastName, 'smith') and exists(attributes.Address.City)")
                == EntityDecodeScope(attributes: ["LastName", "Address"], crosswalks: false))
        #expect(
            try Self.scope("not startsWith(crosswalks.value, 'x') or changes(attributes.Email)")
                == EntityDecodeScope(attributes: ["Email"], crosswalks: true))
        #expect(
            try Self.scope("inSameAttributeValue(equals(attributes.Phone.Type, 'Mobile') and exists(attributes.Phone.Number))")
                == EntityDecodeScope(attributes: ["Phone"], crosswalks: false))
        // The bare `attributes` reads every attribute.
        #expect(try Self.scope("fullText(attributes, 'smith') and exists(crosswalks.type)")
            == EntityDecodeScope(attributes: nil, crosswalks: true))
        #expect(try Self.scope("changes(attributes)").attributes == nil)
    }

    /// For random entities and filters: the filter's answer on the entity decoded with its scope equals its answer
    /// on the whole entity, with a stored delta, a creation's derived delta and a removal's, ovOnly or not.
    @Test(arguments: FilterPropertyTests.seeds)
    func partialEntitiesGiveTheSameAnswers(seed: UInt64) throws {
        var entities = EntityGenerator(rng: SeededGenerator(seed: seed &+ 1000))
        var rng = SeededGenerator(seed: seed &* 31)
        var narrow = 0
        var passed = 0
        var checks = 0
        for _ in 0..<60 {
            let previous = entities.entity()
            let entity = entities.entity()
            let bytes = entity.storedBytes()
            let whole = try Entity(storedBytes: bytes)
            let stored = Delta.between(previous, entity).jsonBytes(entityType: entity.type)
            for _ in 0..<25 {
                let filter = try ObjectFilter.parse(randomFilter(&rng).description)
                let scope = filter.decodeScope
                let partial = try Entity(storedBytes: bytes, scope: scope)
                if partial.attributes.count < whole.attributes.count || partial.crosswalks.count < whole.crosswalks.count {
                    narrow += 1
                }
                for ovOnly in [false, true] {
                    for delta in [EventDelta.stored(stored), .created(whole), .removed(whole), .none] {
                        let partialDelta: EventDelta
                        switch delta {
                        case .created: partialDelta = .created(partial)
                        case .removed: partialDelta = .removed(partial)
                        default: partialDelta = delta
                        }
                        let expected = filter.matches(entity: whole, delta: delta, ovOnly: ovOnly)
                        let got = filter.matches(entity: partial, delta: partialDelta, ovOnly: ovOnly)
                        #expect(got == expected, "\(filter.expression) ovOnly \(ovOnly) \(delta)")
                        if expected { passed += 1 }
                        checks += 1
                    }
                }
            }
        }
        // The scopes are often narrower than the whole entity, and the filters both pass and fail: the test checks
        // something.
        #expect(narrow > 300, "narrow \(narrow)")
        #expect(passed > checks / 10 && passed < checks * 9 / 10, "passed \(passed) of \(checks)")
    }
}
