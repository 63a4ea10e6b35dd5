/// A table of given-name aliases (nicknames): `Bill`, `Will` and `Billy` are aliases of `William`.
///
/// Each entry is a canonical name with its aliases. Two names are aliases of each other when they share a
/// canonical name: a canonical name stands for itself, an alias for every canonical name that lists it
/// (`Ron` stands for `Aaron`, `Ronald` and `Veronica`). Names are compared in cleansed form
/// (`Normalizer.cleanse`: folded, lower-cased, letters and digits only).
public struct AliasTable: Sendable {
    /// The name comparisons refer to (`"aliases": "englishGivenNames"`).
    public let name: String
    /// Cleansed name → the canonical names it stands for, sorted, distinct.
    private let canonical: [String: [String]]

    /// - Parameter groups: per entry, the canonical name first, then its aliases (any case or accents).
    public init(name: String, groups: [[String]]) {
        self.name = name
        var map: [String: Set<String>] = [:]
        for group in groups {
            guard let head = group.first.map(Normalizer.cleanse), !head.isEmpty else { continue }
            map[head, default: []].insert(head)
            for alias in group.dropFirst() {
                let a = Normalizer.cleanse(alias)
                if !a.isEmpty { map[a, default: []].insert(head) }
            }
        }
        canonical = map.mapValues { $0.sorted() }
    }

    /// This table with `groups` added (a tenant's own entries on top of a shipped table).
    public func adding(_ groups: [[String]], name: String) -> AliasTable {
        var all: [[String]] = []
        for (alias, heads) in canonical { for head in heads where head != alias { all.append([head, alias]) } }
        for (alias, heads) in canonical where heads.contains(alias) { all.append([alias]) }
        return AliasTable(name: name, groups: all + groups)
    }

    /// The canonical names `cleansed` stands for (empty when the table does not know it).
    public func canonicalNames(of cleansed: String) -> [String] {
        canonical[cleansed] ?? []
    }

    /// Whether two cleansed names are aliases of each other (or equal).
    public func areAliases(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        let x = canonicalNames(of: a), y = canonicalNames(of: b)
        return !x.isEmpty && !y.isEmpty && shareSorted(x, y)
    }

    /// Number of names the table knows.
    public var count: Int { canonical.count }
}

/// The alias tables a tenant's rules may name: the shipped ones and the tenant's own.
public struct AliasTables: Sendable {
    public private(set) var tables: [String: AliasTable]

    public init(_ tables: [AliasTable] = []) {
        self.tables = Dictionary(tables.map { ($0.name, $0) }, uniquingKeysWith: { _, b in b })
    }

    public subscript(name: String) -> AliasTable? { tables[name] }

    public mutating func add(_ table: AliasTable) { tables[table.name] = table }

    /// The tables every tenant has without configuring anything.
    public static var shipped: AliasTables { AliasTables([.englishGivenNames]) }
}

/// Whether two sorted arrays have an element in common.
public func shareSorted(_ x: [String], _ y: [String]) -> Bool {
    var i = 0, j = 0
    while i < x.count && j < y.count {
        if x[i] == y[j] { return true }
        if x[i] < y[j] { i += 1 } else { j += 1 }
    }
    return false
}
