import HeraldMatchRules
import HeraldModel

/// Match tokens: the blocking keys under which the store indexes an entity.
///
/// Each token is `{group prefix}|{part}|{part}…`, a part being `Attr=value` (an exact value),
/// `Attr~CODE` (a fuzzy key: the phonetic key of a value) or `Attr#` (no value, for `exactOrAllNull`).
/// Two entities for which an automatic or suspect rule holds share a token of that group whenever the
/// rule's tokens are complete (see `keys`), so the store only compares entities that share a token.
extension MatchEngine {
    /// Blocking keys of `entity` for all automatic and suspect groups, deterministic.
    ///
    /// Per group: the keys of the rule without its fuzzy comparisons (complete: a pair for which the rule
    /// holds always shares one) and the keys with them (more selective, so they still find candidates when
    /// the store skips a frequent coarse token). An `and` multiplies its children's keys; when the product
    /// would exceed `maxKeysPerProduct`, the child with the most keys is left out (the tokens get coarser
    /// but stay complete). A group yields at most `maxTokensPerGroup` tokens.
    public func tokens(for entity: Entity) -> Set<String> {
        tokens(for: profile(entity))
    }

    public func tokens(for profile: MatchProfile) -> Set<String> {
        var out = Set<String>()
        for (i, g) in groups.enumerated() where g.type != .negative {
            for set in profile.contributors {
                for t in groupTokens(compiled[i], set, group: g, prefix: tokenPrefixes[i]) { out.insert(t) }
            }
        }
        return out
    }

    /// Tokens per group URI, for explanations and tests.
    public func tokensByGroup(for entity: Entity) -> [String: Set<String>] {
        let p = profile(entity)
        var out: [String: Set<String>] = [:]
        for (i, g) in groups.enumerated() where g.type != .negative {
            var tokens = Set<String>()
            for set in p.contributors { tokens.formUnion(groupTokens(compiled[i], set, group: g, prefix: tokenPrefixes[i])) }
            out[g.uri] = tokens
        }
        return out
    }

    func groupTokens(_ rule: CompiledRule, _ p: ValueSet, group: MatchGroup, prefix: String) -> [String] {
        let cap = group.type == .relevance ? 3 * MatchEngine.maxTokensPerGroup : MatchEngine.maxTokensPerGroup
        guard let refined = keys(rule, p, includeFuzzy: true), !refined.isEmpty else { return [] }
        let coarse = keys(rule, p, includeFuzzy: false) ?? []
        var seen = Set<String>()
        var out: [String] = []
        for group in [coarse, refined] {
            for key in group.map({ prefix + "|" + $0.joined(separator: "|") }).sorted()
            where out.count < cap && seen.insert(key).inserted {
                out.append(key)
            }
        }
        return out
    }

    /// The keys of `rule` for one entity: nil when the rule can hold without the two entities sharing
    /// anything (no restriction), empty when it cannot hold for this entity at all.
    func keys(_ rule: CompiledRule, _ p: ValueSet, includeFuzzy: Bool) -> [[String]]? {
        switch rule {
        case .exact(let slots):
            return product(slots.map { i in p.values[i].map { part(i, "=", $0) } })
        case .exactOrAllNull(let slots):
            return product(
                slots.map { i in
                    let values = p.values[i]
                    return values.isEmpty ? ["\(names[i])#"] : values.map { part(i, "=", $0) }
                })
        case .exactOrNull, .notExactSame:
            return nil
        case .equals(let pairs):
            return product(pairs.map { i, value in p.values[i].contains(value) ? [part(i, "=", value)] : [] })
        case .fuzzy(let slots):
            guard includeFuzzy else { return nil }
            return product(
                slots.map { i in
                    var seen = Set<String>()
                    return p.fuzzy[i].map { part(i, "~", $0.tokenKey) }.filter { seen.insert($0).inserted }.sorted()
                })
        case .compare(let c):
            if c.kind == .fuzzy && !includeFuzzy { return nil }
            let perAttribute = c.slots.map { compareKeys(c, $0, p) }
            if perAttribute.contains(where: \.isEmpty) { return [] }
            guard c.anyOrder else {
                let op = c.kind == .fuzzy ? "~" : c.kind == .exact ? "=" : "^"
                return product(zip(c.slots, perAttribute).map { i, keys in keys.map { part(i, op, $0) } })
            }
            // Either order: each key combines one key per attribute, sorted, under the attributes' joint name.
            let name = c.slots.map { names[$0] }.joined(separator: "+") + (c.kind == .fuzzy ? "~" : "^")
            var combos: [[String]] = [[]]
            for keys in perAttribute {
                combos = combos.flatMap { prefix in keys.map { prefix + [$0] } }
                if combos.count > MatchEngine.maxKeysPerProduct * 4 { break }
            }
            var seen = Set<String>()
            var out: [[String]] = []
            for combo in combos where combo.count == perAttribute.count {
                let key = name + combo.map { String($0.unicodeScalars.prefix(MatchEngine.maxValueLengthInToken)) }
                    .sorted().joined(separator: "/")
                if seen.insert(key).inserted { out.append([key]) }
            }
            return out.sorted { $0[0] < $1[0] }.prefix(MatchEngine.maxKeysPerProduct).map { $0 }
        case .and(let rules):
            var lists: [[[String]]] = []
            for r in rules {
                guard let k = keys(r, p, includeFuzzy: includeFuzzy) else { continue }
                if k.isEmpty { return [] }
                lists.append(k)
            }
            if lists.isEmpty { return nil }
            return multiply(lists)
        case .or(let rules):
            var union: [[String]] = []
            var seen = Set<[String]>()
            for r in rules {
                guard let k = keys(r, p, includeFuzzy: includeFuzzy) else { return nil }
                for key in k where seen.insert(key).inserted { union.append(key) }
            }
            return union
        }
    }

    /// The keys one attribute's values give a comparison with options: values (`exact`), phonetic keys and
    /// alias names as `@name` (`fuzzy`), code keys (`similarCode`) or date keys (`similarDate`). Distinct, sorted.
    private func compareKeys(_ c: CompiledComparison, _ i: Int, _ p: ValueSet) -> [String] {
        var keys = Set<String>()
        switch c.kind {
        case .exact:
            keys.formUnion(p.values[i])
        case .fuzzy:
            for f in p.fuzzy[i] {
                keys.insert(f.tokenKey)
                if let table = c.aliases { for name in f.aliases[table] ?? [] { keys.insert("@" + name) } }
            }
        case .similarCode:
            for v in p.values[i] { keys.formUnion(CodeSimilarity.keys(v, minLength: c.minLength)) }
        case .similarDate:
            for v in p.values[i] {
                keys.formUnion(CodeSimilarity.dateKeys(v, sameYearAndMonth: c.sameYearAndMonth))
            }
        }
        return keys.sorted()
    }

    private func part(_ slot: Int, _ op: String, _ value: String) -> String {
        let scalars = value.unicodeScalars
        if scalars.count <= MatchEngine.maxValueLengthInToken { return names[slot] + op + value }
        return names[slot] + op + String(String.UnicodeScalarView(scalars.prefix(MatchEngine.maxValueLengthInToken)))
    }

    /// The cartesian product of single-part lists (one list per attribute of a comparison).
    private func product(_ parts: [[String]]) -> [[String]] {
        if parts.contains(where: \.isEmpty) { return [] }
        return multiply(parts.map { $0.map { [$0] } })
    }

    /// Multiplies key lists, leaving out the longest list while the product exceeds `maxKeysPerProduct`.
    private func multiply(_ lists: [[[String]]]) -> [[String]] {
        var lists = lists
        while lists.count > 1 && lists.reduce(1, { $0 * $1.count }) > MatchEngine.maxKeysPerProduct {
            var longest = 0
            for i in lists.indices where lists[i].count >= lists[longest].count { longest = i }
            lists.remove(at: longest)
        }
        if lists.count == 1 && lists[0].count > MatchEngine.maxKeysPerProduct {
            lists[0] = Array(
                lists[0].sorted { $0.joined(separator: "|") < $1.joined(separator: "|") }
                    .prefix(MatchEngine.maxKeysPerProduct))
        }
        var out: [[String]] = [[]]
        for list in lists {
            var next: [[String]] = []
            for prefix in out { for key in list { next.append(prefix + key) } }
            out = next
        }
        return out
    }
}

extension MatchEngine {
    /// The coarse tokens among `tokens`: those without fuzzy parts (`Attr~CODE`) in a group for which
    /// `tokens` also holds finer tokens with them. The store gives them a lower frequency cap
    /// (`limits.maxEntitiesPerCoarseToken`): the finer tokens still find the names that sound alike.
    public static func coarseTokens(in tokens: Set<String>) -> Set<String> {
        // On UTF-8 bytes: '~' and '|' are ASCII, and Character comparisons cost more than the rest of
        // this function (it runs for every matched entity).
        let tilde = UInt8(ascii: "~")
        let bar = UInt8(ascii: "|")
        var refinedGroups = Set<Substring>()
        for token in tokens where token.utf8.contains(tilde) {
            if let i = token.utf8.firstIndex(of: bar) { refinedGroups.insert(token[..<i]) }
        }
        if refinedGroups.isEmpty { return [] }
        return tokens.filter { token in
            guard !token.utf8.contains(tilde), let i = token.utf8.firstIndex(of: bar) else { return false }
            return refinedGroups.contains(token[..<i])
        }
    }
}
