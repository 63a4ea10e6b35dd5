import Testing

@testable import HeraldIngest

/// The writer's profile cache: bounded, and entries in use survive while unused ones are dropped.
@Suite struct GenerationalCacheTests {
    @Test func holdsAtMostTwoGenerations() {
        var cache = GenerationalCache<Int>(generation: 100)
        for i in 0..<1_000 { cache.put("k\(i)", i) }
        #expect(cache.count <= 200)
        #expect(cache.get("k999") == 999)
        #expect(cache.get("k0") == nil)
    }

    @Test func anEntryInUseSurvivesRotations() {
        var cache = GenerationalCache<Int>(generation: 10)
        cache.put("hot", 1)
        for i in 0..<100 {
            cache.put("cold\(i)", i)
            // Used at least once per generation: moved back into the young one each time it is old.
            if i % 5 == 0 { #expect(cache.get("hot") == 1, "lost after \(i) other entries") }
        }
        #expect(cache.get("hot") == 1)
        #expect(cache.get("cold0") == nil)
    }

    @Test func anUnusedEntryIsDroppedAfterTwoGenerations() {
        var cache = GenerationalCache<Int>(generation: 10)
        cache.put("once", 7)
        for i in 0..<9 { cache.put("a\(i)", i) }  // the young generation fills and becomes the old one
        #expect(cache.get("once") == 7)  // a hit moves it back into the (new) young generation
        for i in 0..<20 { cache.put("b\(i)", i) }  // two more generations without using it
        #expect(cache.get("once") == nil)
    }

    @Test func aGenerationOfZeroKeepsNothing() {
        // store.matchProfileCacheEntries = 0 (or 1): every profile is computed again when needed.
        var cache = GenerationalCache<Int>(generation: 0)
        cache.put("k", 1)
        #expect(cache.count == 0)
        #expect(cache.get("k") == nil)
    }

    @Test func removeAllEmptiesBothGenerations() {
        var cache = GenerationalCache<Int>(generation: 3)
        for i in 0..<5 { cache.put("k\(i)", i) }
        cache.removeAll()
        #expect(cache.count == 0)
        for i in 0..<5 { #expect(cache.get("k\(i)") == nil) }
    }
}
