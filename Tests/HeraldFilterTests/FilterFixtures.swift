import HeraldModel

@testable import HeraldFilter

let individualType = "configuration/entityTypes/Individual"
let organizationType = "configuration/entityTypes/Organization"

func simple(_ id: String, _ text: String, ov: Bool = true, sources: [String] = ["c1"]) -> AttributeValue {
    AttributeValue(id: id, content: .simple(text), ov: ov, sources: sources)
}

/// A nested value whose sub-values follow the parent's `ov`, as survivorship sets them.
func nested(_ id: String, ov: Bool = true, sources: [String] = ["c1"], _ subs: [(String, String)]) -> AttributeValue {
    var entries: [AttributeEntry] = []
    for (i, (name, text)) in subs.enumerated() {
        let value = AttributeValue(id: "\(id).\(i)", content: .simple(text), ov: ov, sources: sources)
        if let at = entries.firstIndex(where: { $0.name == name }) {
            entries[at].values.append(value)
        } else {
            entries.append(AttributeEntry(name: name, values: [value]))
        }
    }
    return AttributeValue(id: id, content: .nested(entries), ov: ov, sources: sources)
}

/// 256 'a's followed by text beyond the 256-character limit.
let longNotes = String(repeating: "a", count: 256) + "needle"

/// A person with nested addresses, values from two sources, ov and non-ov values.
let person = Entity(
    id: "P1", type: individualType,
    attributes: [
        AttributeEntry(
            name: "FirstName", values: [simple("f1", "John"), simple("f2", "Jon", ov: false, sources: ["c3"])]),
        AttributeEntry(name: "LastName", values: [simple("l1", "O'Brien")]),
        AttributeEntry(name: "MiddleName", values: [simple("m1", "Jérôme")]),
        AttributeEntry(
            name: "Email",
            values: [
                simple("e1", "john.obrien@example.com"),
                simple("e2", "J.OBrien@Corp.Example.org", ov: false, sources: ["c3"]),
            ]),
        AttributeEntry(name: "Age", values: [simple("a1", "42"), simple("a2", "17", ov: false, sources: ["c3"])]),
        AttributeEntry(name: "Score", values: [simple("s1", "-3.5")]),
        AttributeEntry(name: "BirthDate", values: [simple("b1", "1981-05-17")]),
        AttributeEntry(name: "LastSeen", values: [simple("ls1", "2023-11-14T22:13:20Z")]),
        AttributeEntry(
            name: "Description",
            values: [simple("d1", "Senior data-integration engineer, likes (MDM) & queues;@heraldHQ #streaming")]),
        AttributeEntry(name: "Nickname", values: [simple("n1", "Johnny", ov: false, sources: ["c3"])]),
        AttributeEntry(name: "Code", values: [simple("k1", "AbC-123")]),
        AttributeEntry(name: "Notes", values: [simple("no1", longNotes)]),
        AttributeEntry(
            name: "Address",
            values: [
                nested(
                    "ad1", [("City", "Paris"), ("Zip", "75001"), ("Street", "12 Rue de Rivoli"), ("Country", "FR")]),
                nested("ad2", ov: false, sources: ["c3"], [("City", "Lyon"), ("Zip", "69001"), ("Country", "FR")]),
                nested("ad3", [("City", "München"), ("Zip", "80331"), ("Country", "DE")]),
            ]),
        AttributeEntry(name: "Phone", values: [nested("ph1", [("Number", "+33 1 23 45 67 89"), ("Type", "Mobile")])]),
        AttributeEntry(
            name: "Tags",
            values: [simple("t1", "alpha"), simple("t2", "beta", ov: false, sources: ["c3"]), simple("t3", "gamma")]),
    ],
    crosswalks: [
        Crosswalk(id: "c1", type: "configuration/sources/CRM", value: "CRM-001", createDate: 1, updateDate: 5),
        Crosswalk(id: "c2", type: "configuration/sources/CRM", value: "CRM-002", createDate: 1, updateDate: 4),
        Crosswalk(id: "c3", type: "configuration/sources/ERP", value: "erp/77", createDate: 1, updateDate: 3),
    ],
    createdBy: "alice", createdTime: 1_600_000_000_000, updatedBy: "Bob.Smith@example.com",
    updatedTime: 1_700_000_000_000)

let organization = Entity(
    id: "O9", type: organizationType,
    attributes: [
        AttributeEntry(name: "Name", values: [simple("on1", "Acme Corp")]),
        AttributeEntry(name: "Address", values: [nested("oa1", [("City", "Paris"), ("Zip", "75008")])]),
    ],
    crosswalks: [Crosswalk(id: "c1", type: "configuration/sources/ERP", value: "ORG-9", createDate: 1, updateDate: 1)],
    createdBy: "system", createdTime: 1_000)

let emptyEntity = Entity(id: "E0", type: individualType, createdBy: "system", createdTime: 1_000)

func deltaValue(_ id: String, _ content: AttributeContent, ov: Bool) -> DeltaValue {
    DeltaValue(id: id, content: content, ov: ov, sources: ["CRM"])
}

/// LastName and Address.Zip changed (ov), Nickname added (not ov), Phone removed (not ov), a crosswalk added.
let personDelta = Delta(
    items: [
        DeltaItem(
            kind: .attributeChanged, attributeName: "LastName", oldValue: deltaValue("l1", .simple("OBrien"), ov: true),
            newValue: deltaValue("l1", .simple("O'Brien"), ov: true)),
        DeltaItem(
            kind: .attributeAdded, attributeName: "Nickname", newValue: deltaValue("n1", .simple("Johnny"), ov: false)),
        DeltaItem(
            kind: .attributeChanged, attributeName: "Address",
            oldValue: deltaValue(
                "ad1", nested("ad1", [("City", "Paris"), ("Zip", "75002"), ("Street", "12 Rue de Rivoli")]).content,
                ov: true),
            newValue: deltaValue(
                "ad1", nested("ad1", [("City", "Paris"), ("Zip", "75001"), ("Street", "12 Rue de Rivoli")]).content,
                ov: true)),
        DeltaItem(
            kind: .attributeRemoved, attributeName: "Phone",
            oldValue: deltaValue("ph0", nested("ph0", [("Number", "+33 9"), ("Type", "Home")]).content, ov: false)),
        DeltaItem(kind: .crosswalkAdded, crosswalk: CrosswalkKey(type: "configuration/sources/ERP", value: "erp/77")),
    ], ovChanged: true)

/// The subjects the table refers to by name.
enum SubjectName: String, Sendable, CaseIterable {
    case person, personOV, personDelta, personDeltaOV, organization, empty

    var subject: FilterSubject {
        switch self {
        case .person: return FilterSubject(entity: HeraldFilterTests.person)
        case .personOV: return FilterSubject(entity: HeraldFilterTests.person, ovOnly: true)
        case .personDelta: return FilterSubject(entity: HeraldFilterTests.person, delta: HeraldFilterTests.personDelta)
        case .personDeltaOV:
            return FilterSubject(entity: HeraldFilterTests.person, delta: HeraldFilterTests.personDelta, ovOnly: true)
        case .organization: return FilterSubject(entity: HeraldFilterTests.organization)
        case .empty: return FilterSubject(entity: emptyEntity)
        }
    }
}

/// A small deterministic generator (SplitMix64), so property and fuzz runs are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
