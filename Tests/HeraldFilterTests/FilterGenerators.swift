import HeraldModel

@testable import HeraldFilter

/// Values and literals the generators draw from: mixed case, Unicode, separators, numbers, dates,
/// wildcard characters and a value longer than 256 characters.
let generatedVocabulary: [String] = [
    "John", "john", "JOHN", "Jon", "Johnny", "O'Brien", "Jérôme", "ÉCOLE", "école", "straße", "München", "Paris",
    "paris", "75001", "75", "42", "-3.5", "1e3", "0.5", "2020-01-31", "2021-06-01T10:00:00Z", "a,b", "x@y.com",
    "data-integration engineer", "Acme (MDM) Corp", "", " ", "alpha beta gamma", "İstanbul",
    String(repeating: "b", count: 256) + "tail", "?*", "ǅemal", "Zoë", "ΑΘΗΝΑ",
]

let generatedLiterals: [String] =
    generatedVocabulary + [
        "jo", "JO", "*", "j*", "?aris", "*e*", "pariss", "jhon", "b*", "75*", "o'", "Individual", "CRM",
        "configuration/sources/ERP", "beta", "engineer", "data", "x", "mdm corp", "münch", "istanbul",
        String(repeating: "b", count: 256), "zoe", "αθηνα", "configuration/entityTypes/Organization",
    ]

extension SeededGenerator {
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}

/// Random entities shaped like the fixtures: simple attributes, a nested Address, crosswalks from two
/// sources, random `ov`. Value ids come from a small pool so that two entities give a delta with
/// changed items.
struct EntityGenerator {
    var rng: SeededGenerator

    static let simpleNames = ["Name", "Code", "Num", "Tags"]
    static let types = [individualType, organizationType]

    mutating func entity() -> Entity {
        var attributes: [AttributeEntry] = []
        for name in Self.simpleNames where rng.chance(0.75) {
            let values = (0..<rng.int(1...3)).map { i in
                simple("\(name)\(i)", rng.pick(generatedVocabulary), ov: rng.chance(0.6))
            }
            attributes.append(AttributeEntry(name: name, values: values))
        }
        if rng.chance(0.7) {
            var values: [AttributeValue] = []
            for i in 0..<rng.int(1...3) {
                var subs: [(String, String)] = []
                if rng.chance(0.8) { subs.append(("City", rng.pick(generatedVocabulary))) }
                if rng.chance(0.7) { subs.append(("Zip", rng.pick(["75001", "75008", "69001", "80331", "x"]))) }
                values.append(nested("Address\(i)", ov: rng.chance(0.6), subs))
            }
            attributes.append(AttributeEntry(name: "Address", values: values))
        }
        var crosswalks: [Crosswalk] = []
        for i in 0..<rng.int(0...3) {
            crosswalks.append(
                Crosswalk(
                    id: "c\(i)", type: "configuration/sources/" + rng.pick(["CRM", "ERP"]),
                    value: rng.pick(["CRM-1", "erp/2", "John", "42"]), createDate: 1, updateDate: 1))
        }
        return Entity(
            id: "G\(rng.int(1...9))", type: rng.pick(Self.types), attributes: attributes, crosswalks: crosswalks,
            createdBy: rng.pick(["alice", "Bob"]), createdTime: Int64(rng.int(0...2_000_000)))
    }

    /// A subject with a delta from another random entity (or none), ovOnly at random.
    mutating func subject() -> FilterSubject {
        let entity = entity()
        let delta: Delta? = rng.chance(0.8) ? Delta.between(rng.chance(0.2) ? nil : self.entity(), entity) : nil
        return FilterSubject(entity: entity, delta: delta, ovOnly: rng.chance(0.4))
    }
}

/// A generated filter: its text and an independent, naive evaluation written with plain String APIs.
indirect enum GeneratedFilter: CustomStringConvertible {
    case leaf(GeneratedLeaf)
    case and(GeneratedFilter, GeneratedFilter)
    case or(GeneratedFilter, GeneratedFilter)
    case not(GeneratedFilter)
    case sameValue([GeneratedLeaf])

    var description: String {
        switch self {
        case .leaf(let l): return l.text
        case .and(let a, let b): return "(\(a) and \(b))"
        case .or(let a, let b): return "(\(a) or \(b))"
        case .not(let a): return "not \(a)"
        case .sameValue(let leaves):
            return "inSameAttributeValue(" + leaves.map(\.text).joined(separator: " and ") + ")"
        }
    }

    func reference(_ s: FilterSubject) -> Bool {
        switch self {
        case .leaf(let l): return l.reference(s, scope: nil)
        case .and(let a, let b): return a.reference(s) && b.reference(s)
        case .or(let a, let b): return a.reference(s) || b.reference(s)
        case .not(let a): return !a.reference(s)
        case .sameValue(let leaves):
            let values = (s.entity.values(of: "Address") ?? []).filter { !s.ovOnly || $0.ov }
            return values.contains { v in leaves.allSatisfy { $0.reference(s, scope: v) } }
        }
    }
}

struct GeneratedLeaf {
    var op: String
    var property: String
    var literals: [String]

    var text: String {
        let args = literals.map { lit -> String in
            if ["range", "gt", "gte", "lt", "lte"].contains(op), Double(lit) != nil { return lit }
            return "'" + String(lit.flatMap { $0 == "'" ? ["'", "'"] : [$0] }) + "'"
        }
        return "\(op)(" + ([property] + args).joined(separator: ", ") + ")"
    }

    static let properties = [
        "attributes.Name", "attributes.Code", "attributes.Num", "attributes.Tags", "attributes.Address",
        "attributes.Address.City", "attributes.Address.Zip", "attributes", "type", "crosswalks.type",
        "crosswalks.value", "createdBy", "attributes.Missing",
    ]
    static let regexps: [(String, @Sendable (String) -> Bool)] = [
        ("[0-9]+", { !$0.isEmpty && $0.unicodeScalars.allSatisfy { $0.value >= 48 && $0.value <= 57 } }),
        ("[A-Z].*", { ($0.unicodeScalars.first.map { $0.value >= 65 && $0.value <= 90 }) ?? false }),
        (".*a.*", { $0.unicodeScalars.contains("a") }),
        ("John|Paris", { $0 == "John" || $0 == "Paris" }),
    ]

    static func random(_ rng: inout SeededGenerator, properties: [String] = properties) -> GeneratedLeaf {
        let op = rng.pick([
            "equals", "equalsCaseSensitive", "startsWith", "containsWordStartingWith", "fullText", "fuzzy",
            "contains", "regexp", "in", "range", "gt", "gte", "lt", "lte", "exists", "missing", "changes",
        ])
        var property = rng.pick(properties)
        if op == "changes" && !property.hasPrefix("attributes") { property = "attributes.Address.Zip" }
        var literals: [String]
        switch op {
        case "exists", "missing", "changes": literals = []
        case "in": literals = (0..<rng.int(1...3)).map { _ in rng.pick(generatedLiterals) }
        case "regexp": literals = [rng.pick(regexps).0]
        case "range":
            let a = rng.pick(["-5", "0", "40", "75000", "2020-01-01"])
            let b = rng.pick(["50", "80000", "2021-12-31", "1e4"])
            literals = (referenceNumber(a)! <= referenceNumber(b)!) ? [a, b] : [b, a]
        case "gt", "gte", "lt", "lte": literals = [rng.pick(["-5", "0", "0.5", "42", "75001", "2020-06-01", "1000"])]
        case "containsWordStartingWith", "fullText":
            let lit = rng.pick(generatedLiterals)
            literals = [referenceWords(lit).isEmpty ? "john" : lit]
        default: literals = [rng.pick(generatedLiterals)]
        }
        return GeneratedLeaf(op: op, property: property, literals: literals)
    }

    // MARK: - Naive reference semantics

    func reference(_ s: FilterSubject, scope: AttributeValue?) -> Bool {
        switch op {
        case "exists": return !nodes(s, scope: scope).isEmpty
        case "missing": return nodes(s, scope: scope).isEmpty
        case "changes": return referenceChanges(s)
        case "fullText":
            let values = texts(s, scope: scope).map { $0.full }
            return referenceWords(literals[0]).allSatisfy { w in values.contains { referenceWords($0).contains(w) } }
        default:
            return texts(s, scope: scope).contains { candidate in
                valueHolds(candidate.full)
                    || (candidate.last.map { last in valueHolds(last, lastComponent: true) } ?? false)
            }
        }
    }

    private func valueHolds(_ v: String, lastComponent: Bool = false) -> Bool {
        let usable = literals.filter { !lastComponent || !$0.contains("/") }
        switch op {
        case "equals": return usable.contains { lower(v) == lower($0) }
        case "equalsCaseSensitive": return usable.contains { scalars(v) == scalars($0) }
        case "startsWith": return usable.contains { lower(v).starts(with: lower($0)) }
        case "in": return usable.contains { lower(v) == lower($0) }
        case "contains": return usable.contains { referenceWildcard(lower(v), lower($0)) }
        case "fuzzy":
            return usable.contains {
                referenceDamerau(lower(v), lower($0)) <= (lower($0).count <= 5 ? 1 : 2)
            }
        case "regexp":
            guard !(lastComponent && literals[0].contains("/")) else { return false }
            return Self.regexps.first { $0.0 == literals[0] }!.1(v)
        case "containsWordStartingWith":
            guard !lastComponent else { return false }
            let words = referenceWords(v)
            return referenceWords(literals[0]).allSatisfy { w in words.contains { $0.starts(with: w) } }
        case "range", "gt", "gte", "lt", "lte":
            guard !lastComponent, let x = referenceNumber(v) else { return false }
            let bounds = literals.map { referenceNumber($0)! }
            switch op {
            case "range": return bounds[0] <= x && x <= bounds[1]
            case "gt": return x > bounds[0]
            case "gte": return x >= bounds[0]
            case "lt": return x < bounds[0]
            default: return x <= bounds[0]
            }
        default: fatalError(op)
        }
    }

    /// Attribute values at the property's path (value nodes, for exists and missing).
    private func nodes(_ s: FilterSubject, scope: AttributeValue?) -> [AttributeValue] {
        let keep: (AttributeValue) -> Bool = { !s.ovOnly || $0.ov }
        if property == "attributes" { return s.entity.attributes.flatMap { $0.values.filter(keep) } }
        guard property.hasPrefix("attributes.") else {
            switch property {
            case "crosswalks.type", "crosswalks.value":
                return s.entity.crosswalks.isEmpty ? [] : [simple("x", "x")]
            default: return [simple("x", "x")]
            }
        }
        var path = property.dropFirst("attributes.".count).split(separator: ".").map(String.init)
        var current: [AttributeValue]
        if let scope {
            current = [scope]
            path.removeFirst()
        } else {
            current = (s.entity.values(of: path.removeFirst()) ?? []).filter(keep)
        }
        for name in path {
            current = current.flatMap { v -> [AttributeValue] in
                guard case .nested(let subs) = v.content else { return [] }
                return subs.filter { $0.name == name }.flatMap { $0.values.filter(keep) }
            }
        }
        return current
    }

    /// The texts a text test sees (cut to 256 characters), with a URI's last component where it applies.
    private func texts(_ s: FilterSubject, scope: AttributeValue?) -> [(full: String, last: String?)] {
        func cut(_ t: String) -> String { String(String.UnicodeScalarView(t.unicodeScalars.prefix(256))) }
        func uri(_ t: String) -> (full: String, last: String?) {
            let full = cut(t)
            return (
                full,
                full.contains("/") ? String(full.split(separator: "/", omittingEmptySubsequences: false).last!) : nil
            )
        }
        switch property {
        case "type": return [uri(s.entity.type)]
        case "crosswalks.type": return s.entity.crosswalks.map { uri($0.type) }
        case "crosswalks.value": return s.entity.crosswalks.map { (cut($0.value), nil) }
        case "createdBy": return [(cut(s.entity.createdBy), nil)]
        default:
            func leaves(_ v: AttributeValue) -> [String] {
                switch v.content {
                case .simple(let t): return [cut(t)]
                case .nested(let subs):
                    return subs.flatMap { $0.values.filter { !s.ovOnly || $0.ov }.flatMap(leaves) }
                }
            }
            return nodes(s, scope: scope).flatMap(leaves).map { ($0, nil) }
        }
    }

    private func referenceChanges(_ s: FilterSubject) -> Bool {
        guard let delta = s.delta else { return false }
        let path =
            property == "attributes"
            ? [] : property.dropFirst("attributes.".count).split(separator: ".").map(String.init)
        func sub(_ v: DeltaValue?, _ name: String) -> [String] {
            guard case .nested(let subs)? = v?.content else { return [] }
            return subs.filter { $0.name == name }.flatMap { $0.values.compactMap(\.content.simpleValue) }
        }
        return delta.items.contains { item in
            guard item.crosswalk == nil else { return false }
            if s.ovOnly && !(item.oldValue?.ov ?? false) && !(item.newValue?.ov ?? false) { return false }
            if path.isEmpty { return true }
            guard item.attributeName == path[0] else { return false }
            if path.count == 1 { return true }
            let old = sub(item.oldValue, path[1])
            let new = sub(item.newValue, path[1])
            switch item.kind {
            case .attributeChanged: return old != new
            case .attributeAdded: return !new.isEmpty
            default: return !old.isEmpty
            }
        }
    }
}

// MARK: - Reference helpers (deliberately simple)

func lower(_ s: String) -> [UInt32] { s.lowercased().unicodeScalars.map(\.value) }
func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

func referenceWords(_ s: String) -> [[UInt32]] {
    let separators = Set(" ,'@#$;:&%<>()[]*|/\\!?\t\n\r\u{0B}\u{0C}".unicodeScalars.map(\.value))
    var words: [[UInt32]] = []
    var word: [UInt32] = []
    for u in s.lowercased().unicodeScalars {
        if separators.contains(u.value) || u.properties.isWhitespace {
            if !word.isEmpty { words.append(word) }
            word = []
        } else {
            word.append(u.value)
        }
    }
    if !word.isEmpty { words.append(word) }
    return words
}

func referenceWildcard(_ v: [UInt32], _ p: [UInt32]) -> Bool {
    // matches[i][j]: v[i...] matches p[j...]
    var matches = Array(repeating: Array(repeating: false, count: p.count + 1), count: v.count + 1)
    matches[v.count][p.count] = true
    for i in stride(from: v.count, through: 0, by: -1) {
        for j in stride(from: p.count - 1, through: 0, by: -1) {
            if p[j] == 42 {
                matches[i][j] = matches[i][j + 1] || (i < v.count && matches[i + 1][j])
            } else {
                matches[i][j] = i < v.count && (p[j] == 63 || p[j] == v[i]) && matches[i + 1][j + 1]
            }
        }
    }
    return matches[0][0]
}

/// Unrestricted Damerau-Levenshtein distance, textbook version with a dictionary.
func referenceDamerau(_ a: [UInt32], _ b: [UInt32]) -> Int {
    let maxDistance = a.count + b.count
    var d = Array(repeating: Array(repeating: 0, count: b.count + 2), count: a.count + 2)
    var lastRow: [UInt32: Int] = [:]
    d[0][0] = maxDistance
    for i in 0...a.count {
        d[i + 1][0] = maxDistance
        d[i + 1][1] = i
    }
    for j in 0...b.count {
        d[0][j + 1] = maxDistance
        d[1][j + 1] = j
    }
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    for i in 1...a.count {
        var lastColumn = 0
        for j in 1...b.count {
            let i1 = lastRow[b[j - 1]] ?? 0
            let j1 = lastColumn
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            if cost == 0 { lastColumn = j }
            d[i + 1][j + 1] = min(
                d[i][j] + cost, d[i + 1][j] + 1, d[i][j + 1] + 1, d[i1][j1] + (i - i1 - 1) + 1 + (j - j1 - 1))
        }
        lastRow[a[i - 1]] = i
    }
    return d[a.count + 1][b.count + 1]
}

func referenceNumber(_ s: String) -> Double? {
    if s.wholeMatch(of: /[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?/) != nil { return Double(s) }
    if isISODate(s) { return parseISODateTime(s + "T00:00:00Z").map(Double.init) }
    return parseISODateTime(s).map(Double.init)
}

func randomFilter(_ rng: inout SeededGenerator, depth: Int = 3) -> GeneratedFilter {
    if depth == 0 || rng.chance(0.3) {
        if rng.chance(0.1) {
            let count = rng.int(1...2)
            return .sameValue(
                (0..<count).map { _ in
                    GeneratedLeaf.random(&rng, properties: ["attributes.Address.City", "attributes.Address.Zip"])
                }.map { leaf in
                    var leaf = leaf
                    if leaf.op == "changes" { leaf.op = "exists" }
                    return leaf
                })
        }
        return .leaf(GeneratedLeaf.random(&rng))
    }
    switch rng.int(0...2) {
    case 0: return .and(randomFilter(&rng, depth: depth - 1), randomFilter(&rng, depth: depth - 1))
    case 1: return .or(randomFilter(&rng, depth: depth - 1), randomFilter(&rng, depth: depth - 1))
    default: return .not(randomFilter(&rng, depth: depth - 1))
    }
}
