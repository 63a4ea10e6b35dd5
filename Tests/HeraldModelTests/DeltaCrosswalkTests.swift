import HeraldJSON
import Testing

@testable import HeraldModel

/// Crosswalk items of a delta, as written both ways: from stored delta items (`Delta.render`) and
/// straight from the entity for creations and removals (`EventDelta.render`).
@Suite struct DeltaCrosswalkTests {
    let entity = Entity(
        id: "e1", type: "configuration/entityTypes/Individual",
        crosswalks: [
            Crosswalk(id: "x1", type: "configuration/sources/CRM", value: "c-1", sourceTable: "CUST", createDate: 1, updateDate: 1),
            Crosswalk(id: "x2", type: "configuration/sources/ERP", value: "e\"2", createDate: 1, updateDate: 1),
        ],
        createdBy: "test", createdTime: 1)

    func rendered(_ delta: EventDelta) -> String {
        var w = JSONWriter(capacity: 256)
        delta.render(into: &w, entityType: entity.type)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func rendered(_ delta: Delta) -> String {
        var w = JSONWriter(capacity: 256)
        delta.render(into: &w, entityType: entity.type)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test func creationListsEachCrosswalkWithItsTableWhenItHasOne() {
        let expected = [
            #"{"type":"CROSSWALK_ADDED","crosswalk":{"type":"configuration/sources/CRM","value":"c-1","sourceTable":"CUST"}}"#,
            #"{"type":"CROSSWALK_ADDED","crosswalk":{"type":"configuration/sources/ERP","value":"e\"2"}}"#,
        ]
        for text in [rendered(.created(entity)), rendered(Delta.between(nil, entity))] {
            for item in expected { #expect(text.contains(item), "\(text)") }
        }
    }

    @Test func removalListsEachCrosswalkAsRemoved() {
        for text in [rendered(.removed(entity)), rendered(Delta.between(entity, nil))] {
            #expect(
                text.contains(
                    #"{"type":"CROSSWALK_REMOVED","crosswalk":{"type":"configuration/sources/CRM","value":"c-1","sourceTable":"CUST"}}"#
                ), "\(text)")
            #expect(!text.contains("CROSSWALK_ADDED"))
        }
    }
}
