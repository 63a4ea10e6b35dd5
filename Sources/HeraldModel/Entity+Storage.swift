import HeraldJSON

/// The compact form in which entities are stored and queued.
///
/// The API shape (`Entity+JSON.swift`) repeats the attribute type URI and the
/// value URI on every value: for a typical person that is six times the size
/// of the data. The store and the CRUD queue keep this compact form instead and
/// the API and the payload stage render the full shape from it:
///
///     {"v":1,"id":"…","t":"<entity type URI>","cb":"…","ct":ms,"ub":"…","ut":ms,
///      "a":{"FirstName":[["<value id>","John",1,["<crosswalk id>",…]]],
///           "Address":[["<value id>",{"City":[["<sub id>","Paris",1]]},1,["<crosswalk id>"]]]},
///      "c":[["<crosswalk id>","<source URI>","<value>",<sourceTable or null>,createDate,updateDate]]}
///
/// A value is `[id, value, ov (0/1), sources]`; sub-values of a nested value omit sources.
extension Entity {
    public static let storageFormatVersion = 1

    /// Writes the compact stored form.
    public func encodeStored(into w: inout JSONWriter) {
        w.beginObject()
        w.key("v")
        w.int(Entity.storageFormatVersion)
        w.key("id")
        w.string(id)
        w.key("t")
        w.string(type)
        if let endpoints {
            w.key("s")
            w.string(endpoints.startId)
            w.key("e")
            w.string(endpoints.endId)
        }
        w.key("cb")
        w.string(createdBy)
        w.key("ct")
        w.int(createdTime)
        w.key("ub")
        w.string(updatedBy)
        w.key("ut")
        w.int(updatedTime)
        w.key("a")
        w.beginObject()
        for entry in attributes {
            w.key(entry.name)
            Entity.encodeValues(entry.values, withSources: true, into: &w)
        }
        w.endObject()
        w.key("c")
        w.beginArray()
        for c in crosswalks {
            w.beginArray()
            w.string(c.id)
            w.string(c.type)
            w.string(c.value)
            if let table = c.sourceTable { w.string(table) } else { w.null() }
            w.int(c.createDate)
            w.int(c.updateDate)
            w.endArray()
        }
        w.endArray()
        w.endObject()
    }

    private static func encodeValues(_ values: [AttributeValue], withSources: Bool, into w: inout JSONWriter) {
        w.beginArray()
        for v in values {
            w.beginArray()
            w.string(v.id)
            switch v.content {
            case .simple(let s):
                w.string(s)
            case .nested(let subs):
                w.beginObject()
                for sub in subs {
                    w.key(sub.name)
                    encodeValues(sub.values, withSources: false, into: &w)
                }
                w.endObject()
            }
            w.int(v.ov ? 1 : 0)
            if withSources {
                w.beginArray()
                for s in v.sources { w.string(s) }
                w.endArray()
            }
            w.endArray()
        }
        w.endArray()
    }

    /// The compact stored form as bytes.
    public func storedBytes() -> [UInt8] {
        var w = JSONWriter(capacity: 2048)
        encodeStored(into: &w)
        return w.bytes
    }

    /// Reads the compact stored form (a pull reader: no intermediate JSON tree).
    public init(storedBytes: [UInt8]) throws {
        let decoded: Entity = try storedBytes.withUnsafeBufferPointer { buffer in
            var r = JSONReader(buffer)
            return try Entity.readStored(&r)
        }
        self = decoded
    }

    /// Reads only the parts of the compact stored form that `scope` names; the rest is skipped (checked as JSON,
    /// not built). The result is partial unless `scope` is `.all`: see `EntityDecodeScope`.
    public init(storedBytes: [UInt8], scope: EntityDecodeScope) throws {
        let decoded: Entity = try storedBytes.withUnsafeBufferPointer { buffer in
            var r = JSONReader(buffer)
            return try Entity.readStored(&r, scope: scope)
        }
        self = decoded
    }

    static func readStored(_ r: inout JSONReader, scope: EntityDecodeScope = .all) throws -> Entity {
        var entity = Entity(id: "", type: "", createdBy: "", createdTime: 0)
        var version: Int64 = -1
        var start: String?
        var end: String?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case "v": version = try r.readInt64()
            case "id": entity.id = try r.readString()
            case "t": entity.type = try r.readString()
            case "s": start = try r.readString()
            case "e": end = try r.readString()
            case "cb": entity.createdBy = try r.readString()
            case "ct": entity.createdTime = try r.readInt64()
            case "ub": entity.updatedBy = try r.readString()
            case "ut": entity.updatedTime = try r.readInt64()
            case "a":
                try r.beginObject()
                while let name = try r.nextKey() {
                    guard scope.wants(attribute: name) else {
                        try r.skipValue()
                        continue
                    }
                    entity.attributes.append(AttributeEntry(name: name, values: try readStoredValues(&r, sources: scope.sources)))
                }
                r.endValue()
            case "c" where !scope.crosswalks:
                try r.skipValue()
            case "c":
                try r.beginArray()
                while try r.nextElement() {
                    try r.beginArray()
                    guard try r.nextElement() else { throw EntityDecodingError(path: .root + "c", reason: "empty crosswalk") }
                    let id = try r.readString()
                    try r.expectElement("a crosswalk's type")
                    let type = try r.readString()
                    try r.expectElement("a crosswalk's value")
                    let value = try r.readString()
                    try r.expectElement("a crosswalk's source table")
                    let table = try r.readOptionalString()
                    try r.expectElement("a crosswalk's create date")
                    let created = try r.readInt64()
                    try r.expectElement("a crosswalk's update date")
                    let updated = try r.readInt64()
                    while try r.nextElement() { try r.skipValue() }
                    r.endValue()
                    entity.crosswalks.append(
                        Crosswalk(id: id, type: type, value: value, sourceTable: table, createDate: created, updateDate: updated))
                }
                r.endValue()
            default:
                try r.skipValue()
            }
        }
        guard version == Int64(storageFormatVersion) else {
            throw EntityDecodingError(path: .root + "v", reason: "unsupported storage format version (expected \(storageFormatVersion))")
        }
        if let start, let end { entity.endpoints = RelationEndpoints(startId: start, endId: end) }
        return entity
    }

    private static func readStoredValues(_ r: inout JSONReader, sources keepSources: Bool) throws -> [AttributeValue] {
        var values: [AttributeValue] = []
        try r.beginArray()
        while try r.nextElement() {
            try r.beginArray()
            try r.expectElement("a value's id")
            let id = try r.readString()
            try r.expectElement("a value's content")
            let content: AttributeContent
            if try r.peek() == .object {
                var subs: [AttributeEntry] = []
                try r.beginObject()
                while let name = try r.nextKey() {
                    subs.append(AttributeEntry(name: name, values: try readStoredValues(&r, sources: keepSources)))
                }
                r.endValue()
                content = .nested(subs)
            } else {
                content = .simple(try r.readString())
            }
            try r.expectElement("a value's ov flag")
            let ov = try r.readInt64() == 1
            var sources: [String] = []
            if try r.nextElement() {
                if keepSources {
                    try r.beginArray()
                    while try r.nextElement() { sources.append(try r.readString()) }
                    r.endValue()
                } else {
                    try r.skipValue()
                }
                while try r.nextElement() { try r.skipValue() }
            }
            r.endValue()
            values.append(AttributeValue(id: id, content: content, ov: ov, sources: sources))
        }
        r.endValue()
        return values
    }

    public init(stored json: JSONValue) throws(EntityDecodingError) {
        func fail(_ key: String, _ reason: String) -> EntityDecodingError {
            EntityDecodingError(path: JSONPath.root + key, reason: reason)
        }
        guard json["v"]?.int64Value == Int64(Entity.storageFormatVersion) else {
            throw fail("v", "unsupported storage format version (expected \(Entity.storageFormatVersion))")
        }
        guard let id = json["id"]?.stringValue, let type = json["t"]?.stringValue else {
            throw fail("id", "stored entity needs 'id' and 't'")
        }
        self.init(
            id: id, type: type, createdBy: json["cb"]?.stringValue ?? "", createdTime: json["ct"]?.int64Value ?? 0,
            updatedBy: json["ub"]?.stringValue, updatedTime: json["ut"]?.int64Value)
        if let start = json["s"]?.stringValue, let end = json["e"]?.stringValue {
            endpoints = RelationEndpoints(startId: start, endId: end)
        }
        for member in json["a"]?.objectValue ?? [] {
            attributes.append(
                AttributeEntry(name: member.key, values: try Entity.decodeValues(member.value, at: "a." + member.key)))
        }
        for (i, c) in (json["c"]?.arrayValue ?? []).enumerated() {
            guard let parts = c.arrayValue, parts.count == 6, let cid = parts[0].stringValue,
                let ctype = parts[1].stringValue, let cvalue = parts[2].stringValue
            else { throw fail("c[\(i)]", "a crosswalk is [id, type, value, sourceTable, createDate, updateDate]") }
            crosswalks.append(
                Crosswalk(
                    id: cid, type: ctype, value: cvalue, sourceTable: parts[3].stringValue,
                    createDate: parts[4].int64Value ?? 0, updateDate: parts[5].int64Value ?? 0))
        }
    }

    private static func decodeValues(_ json: JSONValue, at path: String) throws(EntityDecodingError) -> [AttributeValue] {
        guard let list = json.arrayValue else {
            throw EntityDecodingError(path: JSONPath.root + path, reason: "expected an array of values")
        }
        var out: [AttributeValue] = []
        out.reserveCapacity(list.count)
        for item in list {
            guard let parts = item.arrayValue, parts.count >= 3, let vid = parts[0].stringValue else {
                throw EntityDecodingError(path: JSONPath.root + path, reason: "a value is [id, value, ov, sources]")
            }
            let content: AttributeContent
            switch parts[1] {
            case .string(let s):
                content = .simple(s)
            case .object(let members):
                var subs: [AttributeEntry] = []
                for m in members {
                    subs.append(AttributeEntry(name: m.key, values: try decodeValues(m.value, at: path + "." + m.key)))
                }
                content = .nested(subs)
            default:
                throw EntityDecodingError(path: JSONPath.root + path, reason: "a value is a string or an object")
            }
            var sources: [String] = []
            if parts.count > 3, let list = parts[3].arrayValue {
                sources = list.compactMap(\.stringValue)
            }
            out.append(AttributeValue(id: vid, content: content, ov: parts[2].int64Value == 1, sources: sources))
        }
        return out
    }
}
