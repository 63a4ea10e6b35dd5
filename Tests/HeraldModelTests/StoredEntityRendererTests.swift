import HeraldJSON
@testable import HeraldModel
import Testing

/// `StoredEntityRenderer` writes, from the stored bytes alone, exactly what `Entity.render(into:)` writes for the
/// decoded entity, and gives up (writing nothing) on any stored form it does not take.
@Suite struct StoredEntityRendererTests {
    /// A small deterministic generator (SplitMix64).
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    static let plainPieces = ["Anna", "Smith", "12 High St", "Zürich", "東京", "a.b@example.com", "0", "", "x y", "😀"]
    static let trickyPieces = ["say \"hi\"", "back\\slash", "tab\there", "line\nbreak", "\u{01}"]

    static func text(_ r: inout Random, tricky: Bool) -> String {
        if tricky && r.chance(15) { return trickyPieces[r.below(trickyPieces.count)] }
        return plainPieces[r.below(plainPieces.count)] + (r.chance(50) ? String(r.below(1000)) : "")
    }

    static func entity(_ r: inout Random, tricky: Bool) -> Entity {
        let crosswalkIds = (0..<(1 + r.below(3))).map { "c\($0)" + (r.chance(20) ? "x" : "") }
        var e = Entity(
            id: "E" + String(r.below(100_000)), type: r.chance(80) ? individual : "configuration/entityTypes/Organization",
            createdBy: text(&r, tricky: tricky), createdTime: Int64(r.below(2_000_000_000_000)),
            updatedBy: text(&r, tricky: tricky), updatedTime: Int64(r.below(2_000_000_000_000)))
        if r.chance(20) { e.endpoints = RelationEndpoints(startId: "S" + String(r.below(99)), endId: "T" + String(r.below(99))) }
        for a in 0..<r.below(6) {
            var values: [AttributeValue] = []
            let nested = r.chance(30)
            for v in 0..<(1 + r.below(3)) {
                let content: AttributeContent
                if nested {
                    var subs: [AttributeEntry] = []
                    for s in 0..<r.below(3) {
                        subs.append(
                            AttributeEntry(
                                name: "Sub\(s)",
                                values: (0..<r.below(3)).map {
                                    AttributeValue(id: "s\(v)\(s)\($0)", content: .simple(text(&r, tricky: tricky)), ov: r.chance(50))
                                }))
                    }
                    content = .nested(subs)
                } else {
                    content = .simple(text(&r, tricky: tricky))
                }
                let sources = crosswalkIds.filter { _ in r.chance(60) }
                values.append(AttributeValue(id: "v\(a)\(v)", content: content, ov: r.chance(50), sources: sources))
            }
            e.attributes.append(AttributeEntry(name: tricky && r.chance(5) ? "Odd\"Name" : "Attr\(a)", values: values))
        }
        for id in crosswalkIds {
            e.crosswalks.append(
                Crosswalk(
                    id: id, type: "configuration/sources/" + (r.chance(50) ? "CRM" : "ERP"), value: text(&r, tricky: tricky),
                    sourceTable: r.chance(30) ? "table" + String(r.below(9)) : nil, createDate: Int64(r.below(1 << 40)),
                    updateDate: Int64(r.below(1 << 40))))
        }
        return e
    }

    static func rendered(_ e: Entity) -> [UInt8] {
        var w = JSONWriter()
        e.render(into: &w)
        return w.bytes
    }

    @Test func writesWhatEntityRenderWritesForPlainEntities() throws {
        var r = Random(state: 1)
        var renderer = StoredEntityRenderer()
        var relations = 0
        var nested = 0
        for _ in 0..<2_000 {
            let e = Self.entity(&r, tricky: false)
            var w = JSONWriter()
            w.beginArray()  // inside an array, after a value: the renderer must write the comma as render does
            w.int(1)
            let result = renderer.render(stored: e.storedBytes(), into: &w)
            var expected = JSONWriter()
            expected.beginArray()
            expected.int(1)
            e.render(into: &expected)
            let got = try #require(result, "the stored form of a plain entity must be taken: \(String(decoding: e.storedBytes(), as: UTF8.self))")
            #expect(w.bytes == expected.bytes, "\(String(decoding: e.storedBytes(), as: UTF8.self))")
            #expect(got.anyOperationalValue == e.attributes.contains { $0.values.contains(where: \.ov) })
            // The comma state afterwards is the one render leaves.
            w.int(2)
            expected.int(2)
            #expect(w.bytes == expected.bytes)
            if e.isRelation { relations += 1 }
            if e.attributes.contains(where: { $0.values.contains { $0.content.simpleValue == nil } }) { nested += 1 }
        }
        #expect(relations > 100 && nested > 100, "the generator covers relations (\(relations)) and nested values (\(nested))")
    }

    /// Selected fields and `ovOnly` (`payloadFields`): what `render(into:options:)` writes.
    @Test func selectionsWriteWhatRenderWithOptionsWrites() throws {
        var r = Random(state: 4)
        var renderer = StoredEntityRenderer()
        let fields = ["uri", "type", "createdBy", "createdTime", "updatedBy", "updatedTime", "attributes", "crosswalks"]
        var dropped = 0
        for _ in 0..<3_000 {
            let e = Self.entity(&r, tricky: false)
            var payloadFields: [String]? = r.chance(20) ? nil : fields.filter { _ in r.chance(50) }
            if payloadFields != nil && r.chance(50) {
                payloadFields!.append(contentsOf: (0..<r.below(3)).map { _ in "attributes.Attr\(r.below(6))" })
            }
            let options = EntityRenderOptions(payloadFields: payloadFields, ovOnly: r.chance(50))
            let selection = try #require(StoredEntityRenderer.Selection(options))
            var w = JSONWriter()
            w.beginArray()
            let result = renderer.render(stored: e.storedBytes(), selection: selection, into: &w)
            var expected = JSONWriter()
            expected.beginArray()
            e.render(into: &expected, options: options)
            #expect(result != nil)
            w.endArray()
            expected.endArray()
            #expect(
                w.bytes == expected.bytes,
                "\(payloadFields ?? []) ovOnly \(options.ovOnly): \(String(decoding: e.storedBytes(), as: UTF8.self))")
            if w.bytes.count < 100 { dropped += 1 }
        }
        #expect(dropped > 50, "some selections leave almost nothing (\(dropped))")
        #expect(StoredEntityRenderer.Selection(EntityRenderOptions(payloadFields: ["attributes.Address.City"], ovOnly: false)) == nil)
    }

    @Test func escapedStringsAreLeftToTheDecoder() {
        var r = Random(state: 2)
        var renderer = StoredEntityRenderer()
        var declined = 0
        for _ in 0..<2_000 {
            let e = Self.entity(&r, tricky: true)
            var w = JSONWriter()
            w.string("before")
            let before = w.bytes
            if renderer.render(stored: e.storedBytes(), into: &w) != nil {
                var expected = JSONWriter()
                expected.string("before")
                e.render(into: &expected)
                #expect(w.bytes == expected.bytes)
            } else {
                declined += 1
                #expect(w.bytes == before, "nothing written when the renderer gives up")
            }
        }
        #expect(declined > 100, "entities with escapes are declined (\(declined))")
    }

    /// The members are written straight into the writer's spare capacity, with room for 8 output bytes per stored
    /// byte at first. An entity of many one-letter values needs more: the render goes on in the renderer's own memory
    /// and is copied in, the next one makes more room, and the bytes are the same either way. A render that gives
    /// up after outgrowing the room leaves the writer as it was.
    @Test func aRenderThatOutgrowsTheRoomMadeInTheWriterGivesTheSameBytes() {
        var e = Entity(id: "E1", type: individual, createdBy: "u", createdTime: 1, updatedTime: 2)
        e.crosswalks = [Crosswalk(id: "c", type: "configuration/sources/CRM", value: "1", createDate: 1, updateDate: 2)]
        e.attributes = [
            AttributeEntry(
                name: "A", values: (0..<3_000).map { AttributeValue(id: "\($0 % 10)", content: .simple("x"), ov: true, sources: ["c"]) })
        ]
        let stored = e.storedBytes()
        let expected = Self.rendered(e)
        #expect(expected.count > stored.count * 8, "the test needs an output above 8 x the stored bytes")
        var renderer = StoredEntityRenderer()
        #expect(renderer.expansion == 8)
        for round in 0..<2 {
            var w = JSONWriter()
            w.beginArray()
            w.string("before")
            #expect(renderer.render(stored: stored, into: &w) != nil)
            w.endArray()
            var x = JSONWriter()
            x.beginArray()
            x.string("before")
            e.render(into: &x)
            x.endArray()
            #expect(w.bytes == x.bytes, "round \(round)")
            #expect(renderer.expansion > 8, "the room grows after the first render outgrew it")
        }
        // An entity of one long value renders to little more than its stored bytes: the room follows it down.
        var long = e
        long.attributes = [AttributeEntry(name: "Notes", values: [AttributeValue(id: "n", content: .simple(String(repeating: "y", count: 50_000)), ov: true, sources: ["c"])])]
        var lw = JSONWriter()
        #expect(renderer.render(stored: long.storedBytes(), into: &lw) != nil)
        #expect(lw.bytes == Self.rendered(long))
        #expect(renderer.expansion <= 3, "room for \(renderer.expansion) x the stored bytes")
        // Outgrows the room, then meets a string with an escape near the end: nothing stays written.
        var damaged = e
        damaged.attributes[0].values.append(AttributeValue(id: "last", content: .simple("a \"quote\""), ov: true, sources: ["c"]))
        var fresh = StoredEntityRenderer()
        var w = JSONWriter()
        w.beginArray()
        w.string("before")
        let before = w.bytes
        #expect(fresh.render(stored: damaged.storedBytes(), into: &w) == nil)
        #expect(w.bytes == before)
        w.string("after")
        w.endArray()
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"["before","after"]"#, "the comma state is back too")
    }

    /// Damaged stored bytes: the renderer either declines, writing nothing, or the entity decodes and renders to the
    /// same bytes. It never renders what the decoder would refuse.
    @Test func damagedStoredFormsAreDeclinedOrRenderedAsTheDecoderReadsThem() {
        var r = Random(state: 3)
        var renderer = StoredEntityRenderer()
        let alphabet = Array("{}[],:\"01 -.enul\\xE9".utf8)
        var rendered = 0
        for _ in 0..<20_000 {
            var stored = Self.entity(&r, tricky: false).storedBytes()
            switch r.below(4) {
            case 0: stored[r.below(stored.count)] = alphabet[r.below(alphabet.count)]
            case 1: stored.removeSubrange(r.below(stored.count)...)
            case 2: stored.remove(at: r.below(stored.count))
            default: stored.insert(alphabet[r.below(alphabet.count)], at: r.below(stored.count))
            }
            var w = JSONWriter()
            let result = renderer.render(stored: stored, into: &w)
            let decoded = try? Entity(storedBytes: stored)
            if result != nil {
                rendered += 1
                guard let decoded else {
                    Issue.record("rendered a stored form the decoder refuses: \(String(decoding: stored, as: UTF8.self))")
                    continue
                }
                #expect(w.bytes == Self.rendered(decoded), "\(String(decoding: stored, as: UTF8.self))")
            } else {
                #expect(w.bytes.isEmpty)
            }
        }
        #expect(rendered > 1_000, "some damaged forms are still well-formed (\(rendered))")
    }

    /// A creation's and a removal's derived delta from the spans of the last pass: what `EventDelta.created` and
    /// `.removed` render for the decoded entity, after `check` and after a render with any selection.
    @Test func derivedDeltasAreWhatTheDecodedEntityRenders() throws {
        var r = Random(state: 5)
        var renderer = StoredEntityRenderer()
        var ghost = 0
        var sharedNames = 0
        for n in 0..<2_000 {
            var e = Self.entity(&r, tricky: false)
            // Sources without a crosswalk are left out of the names; two crosswalks of one source give it once.
            for a in e.attributes.indices {
                for v in e.attributes[a].values.indices where r.chance(15) {
                    e.attributes[a].values[v].sources.insert("ghost", at: r.below(e.attributes[a].values[v].sources.count + 1))
                    ghost += 1
                }
            }
            if e.attributes.contains(where: { $0.values.contains { v in
                Set(v.sources.compactMap { id in e.crosswalks.first { $0.id == id }?.type }).count < v.sources.filter({ $0 != "ghost" }).count
            } }) {
                sharedNames += 1
            }
            let stored = e.storedBytes()
            var none = JSONWriter()
            let taken: StoredEntityRenderer.Rendered?
            if n % 2 == 0 {
                taken = renderer.check(stored: stored)
            } else {
                let options = EntityRenderOptions(payloadFields: r.chance(50) ? ["uri", "attributes.Attr0"] : nil, ovOnly: r.chance(50))
                let selection = try #require(StoredEntityRenderer.Selection(options))
                taken = renderer.render(stored: stored, selection: selection, into: &none)
            }
            #expect(taken != nil)
            for added in [true, false] {
                var w = JSONWriter()
                w.beginArray()
                w.int(1)
                #expect(renderer.renderDerivedDelta(stored: stored, added: added, into: &w))
                w.int(2)
                var expected = JSONWriter()
                expected.beginArray()
                expected.int(1)
                (added ? EventDelta.created(e) : EventDelta.removed(e)).render(into: &expected, entityType: e.type)
                expected.int(2)
                #expect(w.bytes == expected.bytes, "\(String(decoding: w.bytes, as: UTF8.self))")
            }
        }
        #expect(ghost > 300 && sharedNames > 300, "ghost sources (\(ghost)), sources sharing a name (\(sharedNames))")
    }

    /// Only for the bytes the last pass read, and only when every crosswalk type is ASCII.
    @Test func derivedDeltasNeedTheLastPassOverTheSameBytes() throws {
        var r = Random(state: 6)
        var renderer = StoredEntityRenderer()
        var e = Self.entity(&r, tricky: false)
        e.crosswalks = [Crosswalk(id: "c0", type: "configuration/sources/CRM", value: "1", createDate: 1, updateDate: 2)]
        let stored = e.storedBytes()
        let other = Self.entity(&r, tricky: false).storedBytes()
        var w = JSONWriter()
        #expect(!renderer.renderDerivedDelta(stored: stored, added: true, into: &w), "no pass yet")
        #expect(renderer.check(stored: other) != nil)
        #expect(!renderer.renderDerivedDelta(stored: stored, added: true, into: &w), "the last pass read other bytes")
        let afterOther = renderer.rendersDerivedDelta(stored: stored)
        #expect(!afterOther)
        #expect(renderer.check(stored: stored) != nil)
        let afterOwn = renderer.rendersDerivedDelta(stored: stored)
        #expect(afterOwn)
        var damaged = stored
        damaged.removeLast()
        #expect(renderer.check(stored: damaged) == nil)
        #expect(!renderer.renderDerivedDelta(stored: damaged, added: true, into: &w), "the last pass did not take its bytes")
        #expect(w.bytes.isEmpty)
        e.crosswalks[0].type = "configuration/sources/Caf\u{E9}"
        let accented = e.storedBytes()
        #expect(renderer.check(stored: accented) != nil)
        let accentedTaken = renderer.rendersDerivedDelta(stored: accented)
        #expect(!accentedTaken)
        #expect(!renderer.renderDerivedDelta(stored: accented, added: true, into: &w))
        #expect(w.bytes.isEmpty)
    }
}
