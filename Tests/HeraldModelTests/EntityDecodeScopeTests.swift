import HeraldJSON
import HeraldModel
import Testing

/// `Entity(storedBytes:scope:)`: what delivery decodes to test an object filter. It gives the whole decode's entity
/// restricted to the scope, and on damaged stored forms it fails or reads what the whole decode reads, never more.
@Suite struct EntityDecodeScopeTests {
    typealias Random = StoredEntityRendererTests.Random

    /// The whole entity cut down to `scope`, as the scoped decode should read it.
    static func restricted(_ e: Entity, _ scope: EntityDecodeScope) -> Entity {
        func strip(_ values: [AttributeValue]) -> [AttributeValue] {
            values.map { v in
                var v = v
                if !scope.sources { v.sources = [] }
                if case .nested(let subs) = v.content {
                    v.content = .nested(subs.map { AttributeEntry(name: $0.name, values: strip($0.values)) })
                }
                return v
            }
        }
        var out = e
        out.attributes = e.attributes.filter { scope.attributes?.contains($0.name) ?? true }
            .map { AttributeEntry(name: $0.name, values: strip($0.values)) }
        if !scope.crosswalks { out.crosswalks = [] }
        return out
    }

    static func randomScope(_ r: inout Random) -> EntityDecodeScope {
        if r.chance(10) { return .all }
        let attributes: Set<String>? = r.chance(15) ? nil : Set((0..<r.below(4)).map { _ in "Attr\(r.below(7))" })
        return EntityDecodeScope(attributes: attributes, crosswalks: r.chance(40), sources: r.chance(30))
    }

    @Test func readsTheWholeEntityCutDownToTheScope() throws {
        var r = Random(state: 11)
        var narrower = 0
        for _ in 0..<3_000 {
            let e = StoredEntityRendererTests.entity(&r, tricky: r.chance(30))
            let stored = e.storedBytes()
            let whole = try Entity(storedBytes: stored)
            let scope = Self.randomScope(&r)
            let partial = try Entity(storedBytes: stored, scope: scope)
            #expect(partial == Self.restricted(whole, scope), "\(scope): \(String(decoding: stored, as: UTF8.self))")
            if partial.attributes.count < whole.attributes.count { narrower += 1 }
        }
        #expect(narrower > 1_000)
    }

    /// 20,000 damaged stored forms: where the whole decode succeeds, the scoped one reads its restriction; where it
    /// fails, the scoped one fails too unless the damage lies in a part it skips (and is still valid JSON).
    @Test func damagedStoredFormsFailOrReadWhatTheWholeDecodeReads() {
        var r = Random(state: 12)
        let alphabet = Array("{}[],:\"01 -.enul\\xE9".utf8) + [0x00, 0xC3, 0xFF]
        var failedBoth = 0
        var skippedDamage = 0
        for _ in 0..<20_000 {
            var stored = StoredEntityRendererTests.entity(&r, tricky: r.chance(20)).storedBytes()
            switch r.below(4) {
            case 0: stored[r.below(stored.count)] = alphabet[r.below(alphabet.count)]
            case 1: stored.removeSubrange(r.below(stored.count)...)
            case 2: stored.remove(at: r.below(stored.count))
            default: stored.insert(alphabet[r.below(alphabet.count)], at: r.below(stored.count))
            }
            let scope = Self.randomScope(&r)
            let whole = try? Entity(storedBytes: stored)
            let partial = try? Entity(storedBytes: stored, scope: scope)
            if let whole {
                #expect(partial == Self.restricted(whole, scope), "\(scope): \(String(decoding: stored, as: UTF8.self))")
            } else if partial == nil {
                failedBoth += 1
            } else {
                skippedDamage += 1
                #expect(!scope.isAll, "the whole scope read what the whole decode refuses")
            }
        }
        #expect(failedBoth > 5_000 && skippedDamage > 20, "failed both \(failedBoth), damage skipped \(skippedDamage)")
    }
}
