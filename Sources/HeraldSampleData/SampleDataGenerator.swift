import HeraldJSON
import HeraldModel

/// Generates person records from several sources with realistic duplicates and a known ground truth.
///
/// Every generated person gets one record; a share of them (`duplicateRate`)
/// get one or two more records from other sources, with the variations real
/// sources have: typos, nicknames, swapped first/last names, missing values,
/// other phone and address formatting. Duplicates are emitted some records
/// later, not next to their original. Deterministic for a given seed.
///
/// The `realistic` error profile tags every duplicate record with the error kinds it carries
/// (`Record.errors`) and adds "twins": different people who share an existing person's last name, address and
/// birth year.
public struct SampleDataGenerator {
    /// Which errors duplicate records carry.
    public enum ErrorProfile: String, Sendable, CaseIterable {
        /// The generator's original variations, untagged: typos, nicknames, swapped names and missing values
        /// at fixed rates, no twins. The output for a seed never changes (demos, tests and benchmarks rely on it).
        case classic
        /// Tagged error kinds (`SampleErrorKind`), each in roughly 10–20% of duplicate records, several per
        /// record possible; about 5% of people are twins of an earlier one. People also get an AddressLine2
        /// (most of them), a National ID (9 digits) and a work address with its own postal code.
        case realistic
    }

    public struct Options: Sendable {
        public var people: Int = 1000
        /// Share of people with more than one record.
        public var duplicateRate: Double = 0.3
        public var seed: UInt64 = 42
        public var sources: [String] = ["CRM", "ERP", "WEB"]
        /// Entity type URI of generated records.
        public var entityType: String = "configuration/entityTypes/Individual"
        /// Which errors duplicates carry (`classic`: the output of earlier versions, byte for byte).
        public var errorProfile: ErrorProfile = .classic

        public init() {}
    }

    /// Rates of the realistic profile: per duplicate record, each kind's chance where it applies.
    enum RealisticRates {
        static let missingValues = 0.15
        /// Of the records whose first name has a nickname.
        static let nickname = 0.3
        static let nameTypo = 0.15
        static let swappedNames = 0.1
        static let otherEmail = 0.2
        static let birthDateTypo = 0.15
        static let postcodeTypo = 0.15
        /// Of the records whose person has an AddressLine2.
        static let swappedAddressLines = 0.2
        /// Of the records that carry identifiers (not WEB).
        static let identifierTypo = 0.2
        /// Share of people generated as the twin of an earlier one.
        static let twin = 0.05
        /// Share of twins with the same first name as the person they twin.
        static let twinSameFirstName = 0.2
        /// Share of people with an AddressLine2.
        static let addressLine2 = 0.75
        /// Chance that a record carries the work address.
        static let workAddress = 0.5
    }

    /// The nicknames the realistic profile uses: formal first name (one of the generator's) → its nicknames.
    /// For checking what an alias table covers; a matching rule's table should not be derived from it.
    public static var nicknames: [String: [String]] { Names.realisticNicknames }

    /// One generated line.
    public struct Record: Sendable {
        /// The entity as compact JSON (one NDJSON line, without the newline).
        public var json: [UInt8]
        public var source: String
        public var crosswalkValue: String
        /// The generated person this record describes (the ground truth for matching).
        public var personId: Int
        /// The error kinds this record carries (realistic profile; sorted, distinct; empty for a first record
        /// that is not a twin's, and always empty in the classic profile).
        public var errors: [SampleErrorKind] = []
        /// For a twin's records (`errors` contains `.twin`): the person it looks like.
        public var twinOf: Int? = nil
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
        // Realistic profile only.
        var line2: String? = nil
        var nationalId: String = ""
        var workZip: String = ""
        var twinOf: Int? = nil
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

        let realistic = options.errorProfile == .realistic
        // Realistic profile: recent people who are not twins, the ones a twin may look like.
        var recent: [Person] = []
        var recentCount = 0
        for i in 0..<options.people {
            var person = makePerson(i, &rng)
            if realistic {
                addRealisticDetails(&person, &rng)
                if !recent.isEmpty && chance(RealisticRates.twin, &rng) {
                    makeTwin(&person, of: pick(recent, &rng), &rng)
                } else {
                    if recent.count < 1000 { recent.append(person) } else { recent[recentCount % 1000] = person }
                    recentCount += 1
                }
            }
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

    /// The values one record shows, in the order they are written.
    private struct Fields {
        var first: String
        var middle: String?
        var last: String
        var gender: String
        var birthDate: String?
        var email: String?
        var occupation: String
        var employer: String
        var language: String
        var marital: String
        var tier: String
        /// Type and formatted number of each phone; nil: no Phone attribute.
        var phones: [(String, String)]?
        /// Sub-attributes of each address.
        var addresses: [[(String, String)]]
        /// Type and ID of each identifier; nil: no Identifiers attribute.
        var identifiers: [(String, String)]?
    }

    private func makeRecord(
        _ p: Person, source: String, crosswalk: String, variant: Bool, _ rng: inout IDGenerator,
        _ w: inout JSONWriter
    ) -> Record {
        var errors: [SampleErrorKind] = []
        let fields =
            options.errorProfile == .realistic
            ? realisticFields(p, source: source, variant: variant, errors: &errors, &rng)
            : classicFields(p, source: source, variant: variant, &rng)
        render(fields, source: source, crosswalk: crosswalk, &w)
        return Record(
            json: w.bytes, source: source, crosswalkValue: crosswalk, personId: p.id, errors: errors.sorted(),
            twinOf: p.twinOf)
    }

    /// The classic profile's record (the random draws, and so the output, are those of earlier versions).
    private func classicFields(_ p: Person, source: String, variant: Bool, _ rng: inout IDGenerator) -> Fields {
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
        return Fields(
            first: first, middle: includeMiddle ? p.middle : nil, last: last, gender: p.gender,
            birthDate: includeBirthDate ? p.birthDate : nil, email: includeEmail ? email : nil,
            occupation: p.occupation, employer: p.employer, language: p.language, marital: p.marital, tier: p.tier,
            phones: includePhone
                ? [("Mobile", p.phone), ("Home", p.homePhone)].map { ($0, formatPhone($1, style: phoneStyle)) } : nil,
            addresses: [("Home", street), ("Work", p.workStreet)].map { type, line in
                [
                    ("AddressType", type), ("AddressLine1", line), ("City", p.city.0), ("StateProvince", p.city.1),
                    ("PostalCode", p.zip), ("Country", "United States"),
                ]
            },
            identifiers: includeIdentifiers ? [("SSN last 4", p.ssnLast4), ("Loyalty ID", p.loyaltyId)] : nil)
    }

    /// The realistic profile's record: a first record is clean; a duplicate (`variant`) carries the error kinds
    /// drawn for it, listed in `errors` (with `.twin` for every record of a twin).
    private func realisticFields(
        _ p: Person, source: String, variant: Bool, errors: inout [SampleErrorKind], _ rng: inout IDGenerator
    ) -> Fields {
        typealias R = RealisticRates
        var first = p.first
        var last = p.last
        var email = p.email
        var street = p.street
        var line2 = p.line2
        var zip = p.zip
        var birthDate = p.birthDate
        var nationalId = p.nationalId
        var includeBirthDate = true
        var includeMiddle = true
        var includePhone = true
        var includeEmail = true
        // Web sign-ups know no identifiers.
        var includeIdentifiers = source != "WEB"
        let includeWork = chance(R.workAddress, &rng)
        var phoneStyle = Int(rng.next() % 4)
        if p.twinOf != nil { errors.append(.twin) }
        if variant {
            // Values left out first, so that the typos below go to values the record shows.
            if chance(R.missingValues, &rng) {
                repeat {
                    if chance(0.5, &rng) { includeBirthDate = false }
                    if chance(0.5, &rng) { includePhone = false }
                    if chance(0.5, &rng) { includeEmail = false }
                    if includeIdentifiers && chance(0.5, &rng) { includeIdentifiers = false }
                } while includeBirthDate && includePhone && includeEmail && (includeIdentifiers || source == "WEB")
                errors.append(.missingValues)
            }
            if let nicknames = Names.realisticNicknames[first], chance(R.nickname, &rng) {
                first = pick(nicknames, &rng)
                errors.append(.nickname)
            }
            if chance(R.nameTypo, &rng) {
                // typo() leaves names of 3 letters (and some swaps of double letters) as they are: try the other.
                let firstFirst = rng.next() % 2 == 0
                for inFirst in [firstFirst, !firstFirst] {
                    let original = inFirst ? first : last
                    let changed = typo(original, &rng)
                    guard changed != original else { continue }
                    if inFirst { first = changed } else { last = changed }
                    errors.append(.nameTypo)
                    break
                }
            }
            if chance(R.swappedNames, &rng) {
                swap(&first, &last)
                errors.append(.swappedNames)
            }
            if includeEmail && chance(R.otherEmail, &rng) {
                let domain = p.employer.lowercased().filter { $0.isLetter } + ".com"
                email = "\(p.first.lowercased()).\(p.last.lowercased())@\(domain)"
                errors.append(.otherEmail)
            } else if chance(0.3, &rng) {
                email = email.uppercased()
            }
            if includeBirthDate && chance(R.birthDateTypo, &rng) {
                birthDate = birthDateTypo(birthDate, &rng)
                errors.append(.birthDateTypo)
            }
            if chance(R.postcodeTypo, &rng) {
                zip = digitTypo(zip, &rng)
                errors.append(.postcodeTypo)
            }
            // Formatting, not an error: "Main St" written "Main Street".
            if chance(0.3, &rng) { street = street.replacingSuffix(" St", " Street") }
            if let l2 = line2, chance(R.swappedAddressLines, &rng) {
                line2 = street
                street = l2
                errors.append(.swappedAddressLines)
            }
            if includeIdentifiers && chance(R.identifierTypo, &rng) {
                nationalId = digitTypo(nationalId, &rng)
                errors.append(.identifierTypo)
            }
            if chance(0.4, &rng) { includeMiddle = false }
            phoneStyle = Int(rng.next() % 4)
        }
        var home: [(String, String)] = [("AddressType", "Home"), ("AddressLine1", street)]
        if let line2 { home.append(("AddressLine2", line2)) }
        home += [("City", p.city.0), ("StateProvince", p.city.1), ("PostalCode", zip), ("Country", "United States")]
        var addresses = [home]
        if includeWork {
            // workStreet is "123 Oak Ave, Suite 450": the suite is line 2.
            let parts = p.workStreet.split(separator: ",", maxSplits: 1).map { $0.trimmingSpaces }
            addresses.append([
                ("AddressType", "Work"), ("AddressLine1", parts[0]), ("AddressLine2", parts.count > 1 ? parts[1] : ""),
                ("City", p.city.0), ("StateProvince", p.city.1), ("PostalCode", p.workZip),
                ("Country", "United States"),
            ])
        }
        return Fields(
            first: first, middle: includeMiddle ? p.middle : nil, last: last, gender: p.gender,
            birthDate: includeBirthDate ? birthDate : nil, email: includeEmail ? email : nil,
            occupation: p.occupation, employer: p.employer, language: p.language, marital: p.marital, tier: p.tier,
            phones: includePhone
                ? [("Mobile", p.phone), ("Home", p.homePhone)].map { ($0, formatPhone($1, style: phoneStyle)) } : nil,
            addresses: addresses,
            identifiers: includeIdentifiers
                ? [("SSN last 4", p.ssnLast4), ("Loyalty ID", p.loyaltyId), ("National ID", nationalId)] : nil)
    }

    /// Writes `f` as one entity of `options.entityType` with one crosswalk into `w`.
    private func render(_ f: Fields, source: String, crosswalk: String, _ w: inout JSONWriter) {
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
        simple("FirstName", f.first)
        if let middle = f.middle { simple("MiddleName", middle) }
        simple("LastName", f.last)
        simple("Gender", f.gender)
        if let birthDate = f.birthDate { simple("BirthDate", birthDate) }
        if let email = f.email { simple("Email", email) }
        simple("Occupation", f.occupation)
        simple("Employer", f.employer)
        simple("PreferredLanguage", f.language)
        simple("MaritalStatus", f.marital)
        simple("LoyaltyTier", f.tier)
        if let phones = f.phones {
            nested("Phone", phones.map { type, number in [("Type", type), ("Number", number), ("CountryCode", "+1")] })
        }
        nested("Address", f.addresses)
        if let identifiers = f.identifiers {
            nested("Identifiers", identifiers.map { type, id in [("Type", type), ("ID", id)] })
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
    }

    // MARK: - Realistic profile

    /// AddressLine2 (for most people), National ID and the work address's own postal code.
    private func addRealisticDetails(_ p: inout Person, _ rng: inout IDGenerator) {
        if chance(RealisticRates.addressLine2, &rng) {
            let letter = Character(Unicode.Scalar(UInt8(ascii: "A") + UInt8(rng.next() % 6)))
            switch rng.next() % 4 {
            case 0: p.line2 = "Apt \(1 + rng.next() % 30)\(letter)"
            case 1: p.line2 = "Unit \(1 + rng.next() % 400)"
            case 2: p.line2 = "Apt \(100 + rng.next() % 900)"
            default: p.line2 = "# \(1 + rng.next() % 60)"
            }
        }
        p.nationalId = String(1 + rng.next() % 9) + digits(8, &rng)
        p.workZip = p.city.2 + digits(2, &rng)
    }

    /// Turns the newly made `twin` into a different person who looks like `original`: same last name, home address
    /// and birth year; another birth day and month, email, phones and identifiers; another first name, or in
    /// `twinSameFirstName` of the cases the same one (and gender: a "Jr.").
    private func makeTwin(_ twin: inout Person, of original: Person, _ rng: inout IDGenerator) {
        twin.twinOf = original.id
        twin.last = original.last
        twin.street = original.street
        twin.line2 = original.line2
        twin.city = original.city
        twin.zip = original.zip
        if chance(RealisticRates.twinSameFirstName, &rng) {
            twin.first = original.first
            twin.gender = original.gender
            while twin.employer == original.employer { twin.employer = pick(Names.employers, &rng) }
        } else {
            let names = twin.gender == "Female" ? Names.firstFemale : Names.firstMale
            func related(_ a: String, _ b: String) -> Bool {
                a == b || Names.realisticNicknames[a]?.contains(b) == true
                    || Names.realisticNicknames[b]?.contains(a) == true
            }
            while related(twin.first, original.first) { twin.first = pick(names, &rng) }
        }
        let year = String(original.birthDate.prefix(4))
        var month = Int(twin.birthDate.dropFirst(5).prefix(2))!
        var day = Int(twin.birthDate.suffix(2))!
        if String(original.birthDate.dropFirst(5)) == String(twin.birthDate.dropFirst(5)) {
            day = day % 28 + 1
            if rng.next() % 2 == 0 { month = month % 12 + 1 }
        }
        twin.birthDate = "\(year)-\(String(month).leftPadded(to: 2))-\(String(day).leftPadded(to: 2))"
        repeat {
            twin.email =
                rng.next() % 2 == 0
                ? "\(twin.first.lowercased()).\(twin.last.lowercased())\(rng.next() % 100)"
                : "\(twin.first.prefix(1).lowercased())\(twin.last.lowercased())\(1950 + rng.next() % 60)"
            twin.email += "@\(pick(Names.emailDomains, &rng))"
        } while twin.email.lowercased() == original.email.lowercased()
        while twin.phone == original.phone || twin.phone == original.homePhone {
            twin.phone = "\(200 + rng.next() % 800)\(digits(7, &rng))"
        }
        while twin.homePhone == original.homePhone || twin.homePhone == original.phone {
            twin.homePhone = "\(200 + rng.next() % 800)\(digits(7, &rng))"
        }
        while twin.ssnLast4 == original.ssnLast4 { twin.ssnLast4 = digits(4, &rng) }
        while twin.loyaltyId == original.loyaltyId { twin.loyaltyId = "LY" + digits(9, &rng) }
        while twin.nationalId == original.nationalId { twin.nationalId = String(1 + rng.next() % 9) + digits(8, &rng) }
    }

    /// `s` (digits) with one digit substituted or two adjacent different digits transposed; never `s` itself.
    private func digitTypo(_ s: String, _ rng: inout IDGenerator) -> String {
        var chars = Array(s)
        let transposable = chars.indices.dropLast().filter { chars[$0] != chars[$0 + 1] }
        if !transposable.isEmpty && rng.next() % 2 == 0 {
            let i = pick(transposable, &rng)
            chars.swapAt(i, i + 1)
        } else {
            let i = Int(rng.next() % UInt64(chars.count))
            let old = chars[i].asciiValue! - 48
            let new = (old + 1 + UInt8(rng.next() % 9)) % 10
            chars[i] = Character(Unicode.Scalar(48 + new))
        }
        return String(chars)
    }

    /// A valid birth date (yyyy-MM-dd) other than `date`: day and month swapped (when the day is at most 12 and
    /// not the month), one digit off by one, or two adjacent digits of yyyymmdd transposed.
    private func birthDateTypo(_ date: String, _ rng: inout IDGenerator) -> String {
        let digits = Array(date.filter(\.isNumber))
        let month = Int(String(digits[4...5]))!, day = Int(String(digits[6...7]))!
        func format(_ d: [Character]) -> String? {
            let y = Int(String(d[0...3]))!, m = Int(String(d[4...5]))!, dd = Int(String(d[6...7]))!
            guard (1900...2020).contains(y), (1...12).contains(m), dd >= 1, dd <= daysIn(month: m, year: y) else {
                return nil
            }
            let s = String(d[0...3]) + "-" + String(d[4...5]) + "-" + String(d[6...7])
            return s == date ? nil : s
        }
        if day <= 12 && day != month && rng.next() % 3 == 0 {
            return format(Array(digits[0...3]) + Array(digits[6...7]) + Array(digits[4...5]))!
        }
        for _ in 0..<50 {
            var d = digits
            if rng.next() % 2 == 0 {
                let i = Int(rng.next() % 8)
                let v = Int(d[i].asciiValue! - 48) + (rng.next() % 2 == 0 ? 1 : -1)
                guard (0...9).contains(v) else { continue }
                d[i] = Character(Unicode.Scalar(UInt8(48 + v)))
            } else {
                let i = Int(rng.next() % 7)
                guard d[i] != d[i + 1] else { continue }
                d.swapAt(i, i + 1)
            }
            if let s = format(d) { return s }
        }
        // Not reached in practice: the day one off.
        var d = digits
        d[7] = d[7] == "1" ? "2" : "1"
        return format(d) ?? date
    }

    private func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
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

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
