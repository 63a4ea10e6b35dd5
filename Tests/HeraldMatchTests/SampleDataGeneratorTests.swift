import HeraldJSON
import HeraldMatch
import HeraldSampleData
import Testing

/// The sample-data generator: the classic profile's output never changes, and the realistic profile's records
/// carry the errors they are tagged with (each checked against the person's first record, which is clean).
struct SampleDataGeneratorTests {
    /// FNV-1a (64 bits) of every record's JSON and a newline (what `herald sample-data` writes), and of the
    /// `source,crosswalk,person` lines of its --truth file; the values are those of the generator before the
    /// realistic profile existed (demos, tests and benchmarks depend on that output).
    @Test(arguments: [
        (1000, 0.3, UInt64(42), UInt64(0x4c03_b989_caf0_8ab3), UInt64(0x57ec_b033_57bc_022f)),
        (3000, 0.3, UInt64(7), UInt64(0xee9c_0ea1_b040_4a06), UInt64(0x8652_4fbc_34bd_0a0b)),
        (500, 1.0, UInt64(123), UInt64(0x5f28_8e64_67d4_dcae), UInt64(0x2845_02c1_dd7b_e46c)),
    ])
    func classicOutputIsUnchanged(people: Int, duplicateRate: Double, seed: UInt64, records: UInt64, truth: UInt64) {
        var options = SampleDataGenerator.Options()
        options.people = people
        options.duplicateRate = duplicateRate
        options.seed = seed
        #expect(options.errorProfile == .classic, "the default")
        var recordHash = FNV1a()
        var truthHash = FNV1a()
        var tagged = 0
        SampleDataGenerator(options: options).generate { record in
            recordHash.add(record.json)
            recordHash.add([0x0A])
            truthHash.add(Array("\(record.source),\(record.crosswalkValue),\(record.personId)\n".utf8))
            if !record.errors.isEmpty || record.twinOf != nil { tagged += 1 }
        }
        #expect(recordHash.value == records)
        #expect(truthHash.value == truth)
        #expect(tagged == 0)
    }

    @Test func realisticIsDeterministicPerSeed() {
        func hash(seed: UInt64) -> UInt64 {
            var options = SampleDataGenerator.Options()
            options.people = 300
            options.seed = seed
            options.errorProfile = .realistic
            var h = FNV1a()
            SampleDataGenerator(options: options).generate { record in
                h.add(record.json)
                h.add(Array("\(record.personId)|\(record.errors)|\(record.twinOf ?? -1)\n".utf8))
            }
            return h.value
        }
        #expect(hash(seed: 5) == hash(seed: 5))
        #expect(hash(seed: 5) != hash(seed: 6))
    }

    /// Every duplicate record shows exactly the errors it is tagged with, and every twin looks like the person
    /// it twins without being them.
    @Test func realisticRecordsCarryTheirErrors() throws {
        var options = SampleDataGenerator.Options()
        options.people = 3000
        options.seed = 7
        options.errorProfile = .realistic
        var first: [Int: View] = [:]
        var counts: [SampleErrorKind: Int] = [:]
        var twins = 0
        var twinsWithTheSameFirstName = 0
        var problems: [String] = []
        SampleDataGenerator(options: options).generate { record in
            let view = View(try! JSONParser.parse(record.json))
            for kind in record.errors { counts[kind, default: 0] += 1 }
            guard let original = first[record.personId] else {
                first[record.personId] = view
                // A first record carries no error, except a twin's, which carries `twin`.
                if record.errors != (record.twinOf == nil ? [] : [.twin]) {
                    problems.append("\(record.crosswalkValue): first record tagged \(record.errors)")
                }
                if let twinOf = record.twinOf {
                    twins += 1
                    if view.first == first[twinOf]?.first { twinsWithTheSameFirstName += 1 }
                    if let other = first[twinOf] {
                        problems += twinProblems(view, other).map {
                            "\(record.crosswalkValue) (twin of \(twinOf)): \($0)"
                        }
                    } else {
                        problems.append("\(record.crosswalkValue): twin of \(twinOf), not generated before")
                    }
                    if twinOf == record.personId { problems.append("\(record.crosswalkValue) twins itself") }
                }
                return
            }
            problems += duplicateProblems(view, original, Set(record.errors), source: record.source)
                .map { "\(record.crosswalkValue) \(record.errors.map(\.rawValue)): \($0)" }
        }
        let problemCount = problems.count
        #expect(problemCount == 0, "\(problems.prefix(20).joined(separator: "\n"))")
        for kind in SampleErrorKind.allCases {
            #expect(counts[kind, default: 0] >= 100, "\(kind): \(counts[kind] ?? 0)")
        }
        #expect(twins >= 100)
        // About 20% of twins keep the first name ("Jr.").
        #expect(Double(twinsWithTheSameFirstName) / Double(twins) > 0.1)
        #expect(Double(twinsWithTheSameFirstName) / Double(twins) < 0.3)
    }

    /// What differs between a duplicate and the person's first record, against what its tags say.
    private func duplicateProblems(_ r: View, _ o: View, _ kinds: Set<SampleErrorKind>, source: String) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { problems.append(what()) } }
        // Names: undo the swap, then the nickname or typo must explain what is left.
        let (first, last) = kinds.contains(.swappedNames) ? (r.last, r.first) : (r.first, r.last)
        if kinds.contains(.swappedNames) { check(r.first != o.first || r.last != o.last, "names not swapped") }
        let nicknames = SampleDataGenerator.nicknames[o.first ?? ""] ?? []
        switch (kinds.contains(.nickname), kinds.contains(.nameTypo)) {
        case (false, false):
            check(first == o.first && last == o.last, "names \(r.first ?? "-") \(r.last ?? "-")")
        case (true, false):
            check(
                nicknames.contains(first ?? "") && last == o.last, "no nickname of \(o.first ?? "-"): \(first ?? "-")")
        case (false, true):
            let typos = [(first, o.first), (last, o.last)].map { DamerauLevenshtein.distance($0 ?? "", $1 ?? "") }
            check(typos.sorted() == [0, 1], "not one typo: \(first ?? "-") \(last ?? "-")")
        case (true, true):
            let typoInFirst = nicknames.contains { DamerauLevenshtein.distance($0, first ?? "") == 1 }
            check(
                (typoInFirst && last == o.last)
                    || (nicknames.contains(first ?? "") && DamerauLevenshtein.distance(last ?? "", o.last ?? "") == 1),
                "no nickname and one typo: \(first ?? "-") \(last ?? "-")")
        }
        let missing = [
            r.birthDate == nil, r.email == nil, r.phones.isEmpty, r.identifiers.isEmpty && source != "WEB",
        ]
        check(missing.contains(true) == kinds.contains(.missingValues), "missing values \(missing)")
        // Web sign-ups know no identifiers; the others lose them only as a missing value.
        if source == "WEB" { check(r.identifiers.isEmpty, "identifiers from WEB") }
        if !kinds.contains(.missingValues) { check(r.identifiers.isEmpty == (source == "WEB"), "identifiers") }
        if let birthDate = r.birthDate {
            if kinds.contains(.birthDateTypo) {
                check(
                    birthDate != o.birthDate && isValidDate(birthDate),
                    "birth date \(birthDate) of \(o.birthDate ?? "-")")
                check(
                    isBirthDateTypo(birthDate, o.birthDate ?? ""),
                    "not a birth date typo: \(birthDate) of \(o.birthDate ?? "-")")
            } else {
                check(birthDate == o.birthDate, "birth date \(birthDate)")
            }
        } else {
            check(!kinds.contains(.birthDateTypo), "birth date typo without a birth date")
        }
        if let email = r.email {
            check((email.lowercased() != o.email?.lowercased()) == kinds.contains(.otherEmail), "email \(email)")
        }
        if !r.phones.isEmpty { check(r.phones.map(digitsOnly) == o.phones.map(digitsOnly), "phones") }
        if kinds.contains(.postcodeTypo) {
            check(isDigitTypo(r.homeZip, o.homeZip), "postal code \(r.homeZip) of \(o.homeZip)")
        } else {
            check(r.homeZip == o.homeZip, "postal code \(r.homeZip)")
        }
        func plain(_ s: String?) -> String? { s?.replacingOccurrences(of: " Street", with: " St") }
        if kinds.contains(.swappedAddressLines) {
            check(
                r.homeLine1 == o.homeLine2 && plain(r.homeLine2) == plain(o.homeLine1) && o.homeLine2 != nil,
                "address lines \(r.homeLine1 ?? "-") / \(r.homeLine2 ?? "-")")
        } else {
            check(plain(r.homeLine1) == plain(o.homeLine1) && r.homeLine2 == o.homeLine2, "address lines")
        }
        // (A first record from WEB has no identifiers to compare with.)
        let nationalId = r.identifiers["National ID"], originalId = o.identifiers["National ID"]
        if kinds.contains(.identifierTypo) {
            check(nationalId != nil, "identifier typo without identifiers")
            if let nationalId, let originalId {
                check(isDigitTypo(nationalId, originalId), "national id \(nationalId) of \(originalId)")
            }
        } else if let nationalId, let originalId {
            check(nationalId == originalId, "national id \(nationalId)")
        }
        if let ssn = r.identifiers["SSN last 4"], let original = o.identifiers["SSN last 4"] {
            check(ssn == original, "SSN")
        }
        return problems
    }

    private func twinProblems(_ t: View, _ o: View) -> [String] {
        var problems: [String] = []
        func check(_ ok: Bool, _ what: String) { if !ok { problems.append(what) } }
        check(t.last == o.last, "last name \(t.last ?? "-") vs \(o.last ?? "-")")
        check(t.homeLine1 == o.homeLine1 && t.homeLine2 == o.homeLine2 && t.homeZip == o.homeZip, "home address")
        check(t.city == o.city, "city")
        check(t.birthDate?.prefix(4) == o.birthDate?.prefix(4), "birth year")
        check(t.birthDate?.dropFirst(5) != o.birthDate?.dropFirst(5), "birth day and month")
        check(t.email?.lowercased() != o.email?.lowercased(), "email")
        check(Set(t.phones.map(digitsOnly)).isDisjoint(with: o.phones.map(digitsOnly)), "phones")
        check(Set(t.identifiers.values).isDisjoint(with: o.identifiers.values), "identifiers")
        if t.first == o.first { check(t.gender == o.gender, "a Jr. of another gender") }
        return problems
    }

    private func digitsOnly(_ phone: String) -> String {
        let digits = phone.filter(\.isNumber)
        return digits.count == 11 && digits.hasPrefix("1") ? String(digits.dropFirst()) : digits
    }

    /// One digit substituted, or two adjacent (different) digits transposed.
    private func isDigitTypo(_ a: String, _ b: String) -> Bool {
        let x = Array(a), y = Array(b)
        guard x.count == y.count, x != y else { return false }
        let diff = x.indices.filter { x[$0] != y[$0] }
        if diff.count == 1 { return true }
        return diff.count == 2 && diff[1] == diff[0] + 1 && x[diff[0]] == y[diff[1]] && x[diff[1]] == y[diff[0]]
    }

    private func isBirthDateTypo(_ a: String, _ b: String) -> Bool {
        let x = a.filter(\.isNumber), y = b.filter(\.isNumber)
        // Day and month swapped.
        if x.prefix(4) == y.prefix(4) && x.dropFirst(4).prefix(2) == y.suffix(2)
            && x.suffix(2) == y.dropFirst(4).prefix(2)
        {
            return true
        }
        let p = Array(x), q = Array(y)
        let diff = p.indices.filter { p[$0] != q[$0] }
        if diff.count == 1 { return abs(Int(p[diff[0]].asciiValue!) - Int(q[diff[0]].asciiValue!)) == 1 }
        return isDigitTypo(x, y) && diff.count == 2
    }

    private func isValidDate(_ s: String) -> Bool {
        let parts = s.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), parts[2] >= 1 else { return false }
        let days = [
            31, parts[0] % 4 == 0 && (parts[0] % 100 != 0 || parts[0] % 400 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30,
            31, 30, 31,
        ]
        return parts[2] <= days[parts[1] - 1]
    }
}

/// The values of one generated record the checks read.
private struct View {
    var first: String?
    var last: String?
    var gender: String?
    var birthDate: String?
    var email: String?
    var phones: [String] = []
    var homeLine1: String?
    var homeLine2: String?
    var homeZip = ""
    var city: String?
    /// Type → ID.
    var identifiers: [String: String] = [:]

    init(_ json: JSONValue) {
        let a = json["attributes"]!
        func value(_ v: JSONValue?) -> String? { v?.arrayValue?.first?["value"]?.stringValue }
        first = value(a["FirstName"])
        last = value(a["LastName"])
        gender = value(a["Gender"])
        birthDate = value(a["BirthDate"])
        email = value(a["Email"])
        phones = (a["Phone"]?.arrayValue ?? []).compactMap { value($0["value"]?["Number"]) }
        for address in a["Address"]?.arrayValue ?? [] where value(address["value"]?["AddressType"]) == "Home" {
            homeLine1 = value(address["value"]?["AddressLine1"])
            homeLine2 = value(address["value"]?["AddressLine2"])
            homeZip = value(address["value"]?["PostalCode"]) ?? ""
            city = value(address["value"]?["City"])
        }
        for id in a["Identifiers"]?.arrayValue ?? [] {
            if let type = value(id["value"]?["Type"]), let v = value(id["value"]?["ID"]) { identifiers[type] = v }
        }
    }
}

/// FNV-1a, 64 bits.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: [UInt8]) {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }
    }
}
