import HeraldJSON
import HeraldModel

/// Generates person records from several sources with realistic duplicates and a known ground truth.
///
/// Every generated person gets one record; a share of them (`duplicateRate`)
/// get one or two more records from other sources, with the variations real
/// sources have: typos, nicknames, swapped first/last names, missing values,
/// other phone and address formatting. Duplicates are emitted some records
/// later, not next to their original. Deterministic for a given seed.
public struct SampleDataGenerator {
    public struct Options: Sendable {
        public var people: Int = 1000
        /// Share of people with more than one record.
        public var duplicateRate: Double = 0.3
        public var seed: UInt64 = 42
        public var sources: [String] = ["CRM", "ERP", "WEB"]
        /// Entity type URI of generated records.
        public var entityType: String = "configuration/entityTypes/Individual"

        public init() {}
    }

    /// One generated line.
    public struct Record: Sendable {
        /// The entity as compact JSON (one NDJSON line, without the newline).
        public var json: [UInt8]
        public var source: String
        public var crosswalkValue: String
        /// The generated person this record describes (the ground truth for matching).
        public var personId: Int
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    private struct Person {
        var id: Int
        var first: String
        var middle: String
        var last: String
        var gender: String
        var birthDate: String
        var email: String
        var phone: String
        var street: String
        var workStreet: String
        var homePhone: String
        var city: (String, String, String)
        var zip: String
        var occupation: String
        var employer: String
        var language: String
        var tier: String
        var marital: String
        var ssnLast4: String
        var loyaltyId: String
    }

    /// Calls `emit` for every record, in output order.
    public func generate(_ emit: (Record) -> Void) {
        var rng = IDGenerator(seed: options.seed)
        var pending: [Int: [Record]] = [:]
        var counters = [String: Int]()
        var writer = JSONWriter(capacity: 2048)
        let window = 500

        func nextCrosswalk(_ source: String) -> String {
            counters[source, default: 0] += 1
            return "\(source)-\(String(counters[source]!).leftPadded(to: 7))"
        }

        for i in 0..<options.people {
            let person = makePerson(i, &rng)
            let mainSource = options.sources[Int(rng.next() % UInt64(options.sources.count))]
            let main = makeRecord(
                person, source: mainSource, crosswalk: nextCrosswalk(mainSource), variant: false, &rng, &writer)
            emit(main)
            if Double(rng.next() % 10_000) / 10_000 < options.duplicateRate {
                let extra = 1 + Int(rng.next() % 2)
                var others = options.sources.filter { $0 != mainSource }
                for _ in 0..<min(extra, others.count) {
                    let k = Int(rng.next() % UInt64(others.count))
                    let source = others.remove(at: k)
                    let record = makeRecord(
                        person, source: source, crosswalk: nextCrosswalk(source), variant: true, &rng, &writer)
                    pending[i + 1 + Int(rng.next() % UInt64(window)), default: []].append(record)
                }
            }
            if let due = pending.removeValue(forKey: i) { due.forEach(emit) }
        }
        for key in pending.keys.sorted() { pending[key]!.forEach(emit) }
    }

    private func pick<T>(_ list: [T], _ rng: inout IDGenerator) -> T {
        list[Int(rng.next() % UInt64(list.count))]
    }

    private func chance(_ p: Double, _ rng: inout IDGenerator) -> Bool {
        Double(rng.next() % 1_000_000) / 1_000_000 < p
    }

    private func digits(_ n: Int, _ rng: inout IDGenerator) -> String {
        var s = ""
        for _ in 0..<n { s.append(Character(Unicode.Scalar(UInt8(48 + rng.next() % 10)))) }
        return s
    }

    private func makePerson(_ id: Int, _ rng: inout IDGenerator) -> Person {
        let female = rng.next() % 2 == 0
        let first = female ? pick(Names.firstFemale, &rng) : pick(Names.firstMale, &rng)
        let last = pick(Names.last, &rng)
        let year = 1940 + Int(rng.next() % 65)
        let month = 1 + Int(rng.next() % 12)
        let day = 1 + Int(rng.next() % 28)
        let city = pick(Names.cities, &rng)
        let emailUser =
            rng.next() % 2 == 0
            ? "\(first.lowercased()).\(last.lowercased())\(rng.next() % 100)"
            : "\(first.prefix(1).lowercased())\(last.lowercased())\(1950 + rng.next() % 60)"
        return Person(
            id: id, first: first, middle: pick(Names.middle, &rng), last: last, gender: female ? "Female" : "Male",
            birthDate: "\(year)-\(String(month).leftPadded(to: 2))-\(String(day).leftPadded(to: 2))",
            email: "\(emailUser)@\(pick(Names.emailDomains, &rng))",
            phone: "\(200 + rng.next() % 800)\(digits(7, &rng))",
            street: "\(1 + rng.next() % 9999) \(pick(Names.streets, &rng))",
            workStreet: "\(1 + rng.next() % 999) \(pick(Names.streets, &rng)), Suite \(100 + rng.next() % 900)",
            homePhone: "\(200 + rng.next() % 800)\(digits(7, &rng))", city: city,
            zip: city.2 + digits(2, &rng), occupation: pick(Names.occupations, &rng),
            employer: pick(Names.employers, &rng), language: pick(Names.languages, &rng), tier: pick(Names.tiers, &rng),
            marital: pick(Names.marital, &rng), ssnLast4: digits(4, &rng), loyaltyId: "LY" + digits(9, &rng))
    }

    private func typo(_ s: String, _ rng: inout IDGenerator) -> String {
        var chars = Array(s)
        guard chars.count > 3 else { return s }
        let i = 1 + Int(rng.next() % UInt64(chars.count - 2))
        switch rng.next() % 3 {
        case 0: chars.swapAt(i, i + 1 < chars.count ? i + 1 : i - 1)
        case 1: chars.remove(at: i)
        default: chars.insert(chars[i], at: i)
        }
        return String(chars)
    }

    private func formatPhone(_ p: String, style: Int) -> String {
        let a = Array(p)
        let area = String(a[0..<3]), mid = String(a[3..<6]), end = String(a[6..<10])
        switch style {
        case 0: return "(\(area)) \(mid)-\(end)"
        case 1: return "\(area)-\(mid)-\(end)"
        case 2: return "+1 \(area) \(mid) \(end)"
        default: return p
        }
    }

    private func makeRecord(
        _ p: Person, source: String, crosswalk: String, variant: Bool, _ rng: inout IDGenerator,
        _ w: inout JSONWriter
    ) -> Record {
        var first = p.first
        var last = p.last
        var email = p.email
        var street = p.street
        var includeBirthDate = true
        var includeMiddle = true
        var includePhone = true
        var includeEmail = true
        // Web sign-ups know neither the SSN nor the loyalty id.
        let includeIdentifiers = source != "WEB"
        var phoneStyle = Int(rng.next() % 4)
        if variant {
            if chance(0.25, &rng) { first = typo(first, &rng) } else if chance(0.2, &rng) {
                first = Names.nicknames[first] ?? first
            }
            if chance(0.2, &rng) { last = typo(last, &rng) }
            if chance(0.04, &rng) { swap(&first, &last) }
            if chance(0.25, &rng) {
                // Another address altogether: the person's work email.
                let domain = p.employer.lowercased().filter { $0.isLetter } + ".com"
                email = "\(p.first.lowercased()).\(p.last.lowercased())@\(domain)"
            } else if chance(0.3, &rng) {
                email = email.uppercased()
            }
            if chance(0.05, &rng) { includeEmail = false }
            if chance(0.15, &rng) { includeBirthDate = false }
            if chance(0.4, &rng) { includeMiddle = false }
            if chance(0.15, &rng) { includePhone = false }
            if chance(0.3, &rng) { street = street.replacingSuffix(" St", " Street") }
            phoneStyle = Int(rng.next() % 4)
        }
        w.reset()
        w.beginObject()
        w.key("type")
        w.string(options.entityType)
        w.key("attributes")
        w.beginObject()
        /// `[{"value": value}]`: an attribute (or sub-attribute) with one simple value.
        func oneValue(_ value: String) {
            w.beginArray()
            w.beginObject()
            w.key("value")
            w.string(value)
            w.endObject()
            w.endArray()
        }
        func simple(_ name: StaticString, _ value: String) {
            w.key(name)
            oneValue(value)
        }
        /// A nested attribute: one value per item, each sub-attribute with one simple value.
        func nested(_ name: StaticString, _ items: [[(String, String)]]) {
            w.key(name)
            w.beginArray()
            for subAttributes in items {
                w.beginObject()
                w.key("value")
                w.beginObject()
                for (subName, value) in subAttributes {
                    w.key(subName)
                    oneValue(value)
                }
                w.endObject()
                w.endObject()
            }
            w.endArray()
        }
        simple("FirstName", first)
        if includeMiddle { simple("MiddleName", p.middle) }
        simple("LastName", last)
        simple("Gender", p.gender)
        if includeBirthDate { simple("BirthDate", p.birthDate) }
        if includeEmail { simple("Email", email) }
        simple("Occupation", p.occupation)
        simple("Employer", p.employer)
        simple("PreferredLanguage", p.language)
        simple("MaritalStatus", p.marital)
        simple("LoyaltyTier", p.tier)
        if includePhone {
            nested(
                "Phone",
                [("Mobile", p.phone), ("Home", p.homePhone)].map { type, number in
                    [("Type", type), ("Number", formatPhone(number, style: phoneStyle)), ("CountryCode", "+1")]
                })
        }
        nested(
            "Address",
            [("Home", street), ("Work", p.workStreet)].map { type, line in
                [
                    ("AddressType", type), ("AddressLine1", line), ("City", p.city.0), ("StateProvince", p.city.1),
                    ("PostalCode", p.zip), ("Country", "United States"),
                ]
            })
        if includeIdentifiers {
            nested(
                "Identifiers",
                [("SSN last 4", p.ssnLast4), ("Loyalty ID", p.loyaltyId)].map { type, id in [("Type", type), ("ID", id)] })
        }
        w.endObject()
        w.key("crosswalks")
        w.beginArray()
        w.beginObject()
        w.key("type")
        w.string("configuration/sources/\(source)")
        w.key("value")
        w.string(crosswalk)
        w.endObject()
        w.endArray()
        w.endObject()
        return Record(json: w.bytes, source: source, crosswalkValue: crosswalk, personId: p.id)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    func replacingSuffix(_ suffix: String, _ replacement: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) + replacement : self
    }
}
