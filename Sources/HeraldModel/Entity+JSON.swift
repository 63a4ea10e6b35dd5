import HeraldJSON

extension Entity {
    /// Renders the entity in its API and storage shape.
    ///
    /// - Parameters:
    ///   - writer: receives the JSON; nothing else is written.
    ///   - ovOnly: keep only operational values (`ov: true`).
    ///   - attributeNames: when set, keep only these attributes.
    public func render(into writer: inout JSONWriter, ovOnly: Bool = false, attributeNames: Set<String>? = nil) {
        writer.beginObject()
        writer.key("uri")
        writer.openString()
        writer.stringPiece(uriPrefix)
        writer.stringPiece(id)
        writer.closeString()
        writer.key("type")
        writer.string(type)
        renderEndpoints(into: &writer)
        writer.key("createdBy")
        writer.string(createdBy)
        writer.key("createdTime")
        writer.int(createdTime)
        writer.key("updatedBy")
        writer.string(updatedBy)
        writer.key("updatedTime")
        writer.int(updatedTime)
        renderAttributes(into: &writer, ovOnly: ovOnly, attributeNames: attributeNames)
        renderCrosswalks(into: &writer)
        writer.endObject()
    }

    /// For relations: `"startObject": {"objectURI": …}, "endObject": {"objectURI": …}`.
    public func renderEndpoints(into writer: inout JSONWriter) {
        guard let endpoints else { return }
        writer.key("startObject")
        writer.beginObject()
        writer.key("objectURI")
        writer.openString()
        writer.stringPiece("entities/")
        writer.stringPiece(endpoints.startId)
        writer.closeString()
        writer.endObject()
        writer.key("endObject")
        writer.beginObject()
        writer.key("objectURI")
        writer.openString()
        writer.stringPiece("entities/")
        writer.stringPiece(endpoints.endId)
        writer.closeString()
        writer.endObject()
    }

    /// URI prefixes shared by every value of one render, escaped once per entity rather than once
    /// per value (URIs are most of a SNAPSHOT body): `{type}/attributes/` and `{uriPrefix}{id}/attributes/`.
    struct ValueURIPrefixes {
        var type: [UInt8]
        var value: [UInt8]
    }

    func valueURIPrefixes() -> ValueURIPrefixes {
        var type = JSONWriter.escapedContent(self.type)
        type.append(contentsOf: "/attributes/".utf8)
        var value = JSONWriter.escapedContent(uriPrefix)
        value.append(contentsOf: JSONWriter.escapedContent(id))
        value.append(contentsOf: "/attributes/".utf8)
        return ValueURIPrefixes(type: type, value: value)
    }

    /// Writes `"attributes": {...}`.
    public func renderAttributes(into writer: inout JSONWriter, ovOnly: Bool = false, attributeNames: Set<String>? = nil) {
        let prefixes = valueURIPrefixes()
        writer.key("attributes")
        writer.beginObject()
        // Index loops, here and below: `for x in array` copies each element (a retain and release per
        // String and array inside it); a subscript read passed straight on is borrowed.
        for e in attributes.indices {
            if let names = attributeNames, !names.contains(attributes[e].name) { continue }
            if ovOnly && !attributes[e].values.contains(where: \.ov) { continue }
            writer.key(attributes[e].name)
            writer.beginArray()
            for v in attributes[e].values.indices where !ovOnly || attributes[e].values[v].ov {
                renderValue(attributes[e].values[v], attributeName: attributes[e].name, parent: nil, prefixes: prefixes, into: &writer)
            }
            writer.endArray()
        }
        writer.endObject()
    }

    /// Writes `"crosswalks": [...]`.
    public func renderCrosswalks(into writer: inout JSONWriter) {
        let prefixes = valueURIPrefixes()
        writer.key("crosswalks")
        writer.beginArray()
        for crosswalk in crosswalks {
            writer.beginObject()
            writer.key("uri")
            writer.openString()
            writer.stringPiece(uriPrefix)
            writer.stringPiece(id)
            writer.stringPiece("/crosswalks/")
            writer.stringPiece(crosswalk.id)
            writer.closeString()
            writer.key("type")
            writer.string(crosswalk.type)
            writer.key("value")
            writer.string(crosswalk.value)
            if let table = crosswalk.sourceTable {
                writer.key("sourceTable")
                writer.string(table)
            }
            writer.key("createDate")
            writer.int(crosswalk.createDate)
            writer.key("updateDate")
            writer.int(crosswalk.updateDate)
            writer.key("attributes")
            writer.beginArray()
            for e in attributes.indices {
                for v in attributes[e].values.indices where attributes[e].values[v].sources.contains(crosswalk.id) {
                    writer.openString()
                    writeValueURI(attributes[e].name, attributes[e].values[v].id, prefixes, into: &writer)
                    writer.closeString()
                    if case .nested(let subs) = attributes[e].values[v].content {
                        for s in subs.indices {
                            for sv in subs[s].values.indices {
                                writer.openString()
                                writeValueURI(attributes[e].name, attributes[e].values[v].id, prefixes, into: &writer)
                                writer.fragment("/")
                                writer.stringPiece(subs[s].name)
                                writer.fragment("/")
                                writer.stringPiece(subs[s].values[sv].id)
                                writer.closeString()
                            }
                        }
                    }
                }
            }
            writer.endArray()
            writer.endObject()
        }
        writer.endArray()
    }

    /// `{uriPrefix}{id}/attributes/{name}/{valueId}`, inside an open string.
    @inline(__always)
    private func writeValueURI(_ name: String, _ valueId: String, _ prefixes: ValueURIPrefixes, into writer: inout JSONWriter) {
        writer.fragment(prefixes.value)
        writer.stringPiece(name)
        writer.fragment("/")
        writer.stringPiece(valueId)
    }

    /// `{"type", "ov", "value", "uri"}` of one value; `parent` is the nested value a sub-value belongs to.
    ///
    /// Hand-written for the hot path (a SNAPSHOT is mostly these objects): the fixed tokens between
    /// the fields are appended as single fragments (`","ov":`) rather than key/openString/closeString
    /// calls, which halves the appends per value.
    private func renderValue(
        _ value: AttributeValue, attributeName: String, parent: (name: String, id: String)?,
        prefixes: ValueURIPrefixes, into writer: inout JSONWriter
    ) {
        writer.beginObject()
        writer.fragment(#""type":""#)
        writer.fragment(prefixes.type)
        if let parent {
            writer.stringPiece(parent.name)
            writer.fragment("/attributes/")
        }
        writer.stringPiece(attributeName)
        writer.fragment(#"","ov":"#)
        writer.bool(value.ov)
        switch value.content {
        case .simple(let text):
            writer.fragment(#","value":""#)
            writer.stringPiece(text)
            writer.fragment(#"","uri":""#)
        case .nested(let subs):
            writer.key("value")
            writer.beginObject()
            for s in subs.indices {
                writer.key(subs[s].name)
                writer.beginArray()
                for sv in subs[s].values.indices {
                    renderValue(
                        subs[s].values[sv], attributeName: subs[s].name, parent: (attributeName, value.id),
                        prefixes: prefixes, into: &writer)
                }
                writer.endArray()
            }
            writer.endObject()
            writer.fragment(#","uri":""#)
        }
        if let parent {
            writeValueURI(parent.name, parent.id, prefixes, into: &writer)
            writer.fragment("/")
            writer.stringPiece(attributeName)
            writer.fragment("/")
            writer.stringPiece(value.id)
        } else {
            writeValueURI(attributeName, value.id, prefixes, into: &writer)
        }
        // Closes the URI string and the object; `bool` and `endObject` above left the comma state
        // as `endObject()` would.
        writer.fragment(#""}"#)
    }

    /// The entity as compact JSON bytes.
    public func jsonBytes() -> [UInt8] {
        var writer = JSONWriter()
        render(into: &writer)
        return writer.bytes
    }
}

/// A stored or received entity document that does not have the entity shape.
public struct EntityDecodingError: Error, Sendable, CustomStringConvertible {
    public var path: JSONPath
    public var reason: String

    public var description: String { "\(path): \(reason)" }
}

extension Entity {
    /// Reads an entity from its JSON shape (as written by `render(into:)`).
    ///
    /// - Parameter handWritten: read a document a person wrote (a sample event for `herald filter test` or the
    ///   validate API): it may leave out the entity's `uri` (then `entities/sample`), value and crosswalk `uri`s
    ///   (ids by position) and `ov` (a value without it counts as operational), and give a value as a bare
    ///   string, number or boolean. Otherwise (API output, `herald filter apply`) all of those are required.
    public init(json: JSONValue, handWritten: Bool = false) throws(EntityDecodingError) {
        func fail(_ path: JSONPath, _ reason: String) -> EntityDecodingError {
            EntityDecodingError(path: path, reason: reason)
        }
        guard case .object = json else { throw fail(.root, "expected an object") }
        let uri = json["uri"]?.stringValue ?? (handWritten ? "entities/sample" : "")
        guard uri.hasPrefix("entities/") || uri.hasPrefix("relations/") else {
            throw fail(.root + "uri", "expected 'entities/{id}' or 'relations/{id}'")
        }
        guard let type = json["type"]?.stringValue else { throw fail(.root + "type", "expected a string") }
        let prefix = uri.hasPrefix("entities/") ? "entities/" : "relations/"
        let id = String(uri.dropFirst(prefix.count))
        self.init(
            id: id, type: type,
            createdBy: json["createdBy"]?.stringValue ?? "",
            createdTime: json["createdTime"]?.int64Value ?? 0,
            updatedBy: json["updatedBy"]?.stringValue,
            updatedTime: json["updatedTime"]?.int64Value)
        if prefix == "relations/" {
            let start = json["startObject"]?["objectURI"]?.stringValue ?? ""
            let end = json["endObject"]?["objectURI"]?.stringValue ?? ""
            endpoints = RelationEndpoints(
                startId: String(start.dropFirst("entities/".count)), endId: String(end.dropFirst("entities/".count)))
        }

        // Crosswalks first: their `attributes` lists say which values each one contributed.
        var sourcesByValue: [Substring: [String]] = [:]
        let valuePrefix = "\(prefix)\(id)/attributes/"
        if let crosswalks = json["crosswalks"]?.arrayValue {
            for (i, c) in crosswalks.enumerated() {
                func path() -> JSONPath { .root + "crosswalks" + i }
                let cid: String
                if let curi = c["uri"]?.stringValue, let id = Entity.lastURIComponent(curi) {
                    cid = id
                } else if handWritten && c["uri"] == nil {
                    cid = "c\(i)"
                } else {
                    throw fail(path() + "uri", "expected 'entities/{id}/crosswalks/{id}'")
                }
                guard let ctype = c["type"]?.stringValue, let cvalue = c["value"]?.stringValue else {
                    throw fail(path(), "crosswalk needs 'type' and 'value' strings")
                }
                self.crosswalks.append(
                    Crosswalk(
                        id: cid, type: ctype, value: cvalue, sourceTable: c["sourceTable"]?.stringValue,
                        createDate: c["createDate"]?.int64Value ?? 0, updateDate: c["updateDate"]?.int64Value ?? 0))
                Entity.addSources(of: c, crosswalkId: cid, valuePrefix: valuePrefix, to: &sourcesByValue)
            }
        }

        guard let attributes = json["attributes"]?.objectValue else {
            if json["attributes"] == nil { return }
            throw fail(.root + "attributes", "expected an object")
        }
        self.attributes.reserveCapacity(attributes.count)
        for member in attributes {
            guard let values = member.value.arrayValue else {
                throw fail(.root + "attributes" + member.key, "expected an array of values")
            }
            var entry = AttributeEntry(name: member.key, values: [])
            entry.values.reserveCapacity(values.count)
            for (i, v) in values.enumerated() {
                var value = try Entity.decodeValue(
                    v, at: .root + "attributes" + member.key + i, position: i, handWritten: handWritten)
                if !sourcesByValue.isEmpty {
                    value.sources = sourcesByValue[Substring("\(member.key)/\(value.id)")] ?? []
                }
                entry.values.append(value)
            }
            if !entry.values.isEmpty { self.attributes.append(entry) }
        }
    }

    /// The values a crosswalk's `attributes` list names (`{valuePrefix}Name/valueId`), each given the crosswalk's id.
    static func addSources(
        of crosswalk: JSONValue, crosswalkId: String, valuePrefix: String, to sourcesByValue: inout [Substring: [String]]
    ) {
        for a in crosswalk["attributes"]?.arrayValue ?? [] {
            guard let auri = a.stringValue, auri.hasPrefix(valuePrefix) else { continue }
            let rest = auri.utf8.dropFirst(valuePrefix.utf8.count)
            // Only top-level values ("Name/valueId") carry sources; sub-values follow their parent.
            if rest.lazy.filter({ $0 == UInt8(ascii: "/") }).count == 1 {
                sourcesByValue[Substring(rest), default: []].append(crosswalkId)
            }
        }
    }

    /// `path` is built only for an error: most values decode, and building it cost an array per value.
    private static func decodeValue(_ v: JSONValue, at path: @autoclosure () -> JSONPath, position: Int, handWritten: Bool)
        throws(EntityDecodingError) -> AttributeValue
    {
        let valueId: String
        if let uri = v["uri"]?.stringValue, let id = lastURIComponent(uri) {
            valueId = id
        } else if handWritten && v["uri"] == nil {
            valueId = "v\(position)"
        } else {
            throw EntityDecodingError(path: path() + "uri", reason: "expected a value URI")
        }
        let ov = v["ov"]?.boolValue ?? handWritten
        if handWritten {
            switch v {
            case .string(let s): return AttributeValue(id: valueId, content: .simple(s), ov: true)
            case .number(let n): return AttributeValue(id: valueId, content: .simple(n), ov: true)
            case .bool(let b): return AttributeValue(id: valueId, content: .simple(b ? "true" : "false"), ov: true)
            default: break
            }
        }
        switch v["value"] {
        case .string(let s)?:
            return AttributeValue(id: valueId, content: .simple(s), ov: ov)
        case .number(let n)?:
            return AttributeValue(id: valueId, content: .simple(n), ov: ov)
        case .bool(let b)?:
            return AttributeValue(id: valueId, content: .simple(b ? "true" : "false"), ov: ov)
        case .object(let members)?:
            var subs: [AttributeEntry] = []
            subs.reserveCapacity(members.count)
            for m in members {
                guard let subValues = m.value.arrayValue else {
                    throw EntityDecodingError(path: path() + "value" + m.key, reason: "expected an array")
                }
                var entry = AttributeEntry(name: m.key, values: [])
                entry.values.reserveCapacity(subValues.count)
                for (i, sv) in subValues.enumerated() {
                    entry.values.append(try decodeValue(sv, at: path() + "value" + m.key + i, position: i, handWritten: handWritten))
                }
                subs.append(entry)
            }
            return AttributeValue(id: valueId, content: .nested(subs), ov: ov)
        default:
            throw EntityDecodingError(path: path() + "value", reason: "expected a string or an object")
        }
    }

    /// What follows the last `/` of a URI (nil without one), found on the UTF-8 bytes. It is the same as
    /// `uri.lastIndex(of: "/")` on Characters unless a neighbour of that `/` is not ASCII (a combining
    /// mark after it, say, makes it part of another Character): then the Character search decides.
    @inline(__always)
    static func lastURIComponent(_ uri: String) -> String? {
        let utf8 = uri.utf8
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let after = utf8.index(after: slash)
        let asciiAfter = after == utf8.endIndex || utf8[after] < 0x80
        let asciiBefore = slash == utf8.startIndex || utf8[utf8.index(before: slash)] < 0x80
        if asciiAfter && asciiBefore { return String(Substring(utf8[after...])) }
        guard let c = uri.lastIndex(of: "/") else { return nil }
        return String(uri[uri.index(after: c)...])
    }

    /// Reads an entity from stored JSON bytes.
    public init(jsonBytes: [UInt8]) throws {
        try self.init(json: try JSONParser.parse(jsonBytes))
    }
}
