import HeraldModel

/// Visiting the values of a property in place, without copying the entity.
extension FilterEvaluator {
    /// Calls `body` with the UTF-8 of each value of the property (cut to 256 characters) until it
    /// returns true; below `scope` (the value tried by `inSameAttributeValue`) when one is given.
    /// For `type` and `crosswalks.type` it is called a second time with the URI's last component
    /// and `true`.
    @inline(__always)
    static func anyText(
        _ property: FilterProperty, _ subject: FilterSubject, scope: AttributeValue?,
        _ body: (UnsafeBufferPointer<UInt8>, Bool) -> Bool
    ) -> Bool {
        let entity = subject.entity
        switch property {
        case .type:
            return uriText(entity.type, body)
        case .crosswalkType:
            for crosswalk in entity.crosswalks where uriText(crosswalk.type, body) { return true }
            return false
        case .crosswalkValue:
            for crosswalk in entity.crosswalks
            where withUTF8Bytes(crosswalk.value, { body(truncatedToLimit($0), false) }) {
                return true
            }
            return false
        case .createdBy:
            return withUTF8Bytes(entity.createdBy) { body(truncatedToLimit($0), false) }
        case .updatedBy:
            return withUTF8Bytes(entity.updatedBy) { body(truncatedToLimit($0), false) }
        case .createdTime:
            return withDecimalText(entity.createdTime) { body($0, false) }
        case .updatedTime:
            return withDecimalText(entity.updatedTime) { body($0, false) }
        case .uri:
            return withURIText(entity.id) { body(truncatedToLimit($0), false) }
        case .anyAttribute:
            let ovOnly = subject.ovOnly
            let attributes = entity.attributes
            for i in attributes.indices where anyLeaf(in: attributes[i].values, ovOnly: ovOnly, body) {
                return true
            }
            return false
        case .attribute(let path):
            let ovOnly = subject.ovOnly
            if let scope {
                return anyNode(under: scope, path: path.dropFirst(), ovOnly: ovOnly) {
                    anyLeaf($0, ovOnly: ovOnly, body)
                }
            }
            let attributes = entity.attributes
            for i in attributes.indices where attributes[i].name == path[0] {
                return anyNode(in: attributes[i].values, path: path.dropFirst(), ovOnly: ovOnly) {
                    anyLeaf($0, ovOnly: ovOnly, body)
                }
            }
            return false
        }
    }

    static func hasValue(_ property: FilterProperty, _ subject: FilterSubject, scope: AttributeValue?) -> Bool {
        let ovOnly = subject.ovOnly
        switch property {
        case .type, .uri, .createdTime, .updatedTime, .createdBy, .updatedBy:
            return true
        case .crosswalkType, .crosswalkValue:
            return !subject.entity.crosswalks.isEmpty
        case .anyAttribute:
            for entry in subject.entity.attributes {
                for value in entry.values where !ovOnly || value.ov { return true }
            }
            return false
        case .attribute(let path):
            if let scope {
                return anyNode(under: scope, path: path.dropFirst(), ovOnly: ovOnly) { _ in true }
            }
            for entry in subject.entity.attributes where entry.name == path[0] {
                return anyNode(in: entry.values, path: path.dropFirst(), ovOnly: ovOnly) { _ in true }
            }
            return false
        }
    }

    /// Calls `body` with each value reached by following `path` (sub-attribute names) from `values`.
    @inline(__always)
    static func anyNode(
        in values: [AttributeValue], path: ArraySlice<String>, ovOnly: Bool, _ body: (AttributeValue) -> Bool
    ) -> Bool {
        for i in values.indices where !ovOnly || values[i].ov {
            if anyNode(under: values[i], path: path, ovOnly: ovOnly, body) { return true }
        }
        return false
    }

    static func anyNode(
        under value: AttributeValue, path: ArraySlice<String>, ovOnly: Bool, _ body: (AttributeValue) -> Bool
    ) -> Bool {
        guard let name = path.first else { return body(value) }
        guard case .nested(let subs) = value.content else { return false }
        for i in subs.indices where subs[i].name == name {
            return anyNode(in: subs[i].values, path: path.dropFirst(), ovOnly: ovOnly, body)
        }
        return false
    }

    /// Calls `body` with the text of a simple value, or of every simple value below a nested one.
    static func anyLeaf(_ value: AttributeValue, ovOnly: Bool, _ body: (UnsafeBufferPointer<UInt8>, Bool) -> Bool)
        -> Bool
    {
        switch value.content {
        case .simple(let text):
            return withUTF8Bytes(text) { body(truncatedToLimit($0), false) }
        case .nested(let subs):
            for i in subs.indices where anyLeaf(in: subs[i].values, ovOnly: ovOnly, body) { return true }
            return false
        }
    }

    /// `anyLeaf` over the (operational, with `ovOnly`) values of one attribute.
    static func anyLeaf(
        in values: [AttributeValue], ovOnly: Bool, _ body: (UnsafeBufferPointer<UInt8>, Bool) -> Bool
    ) -> Bool {
        for i in values.indices where !ovOnly || values[i].ov {
            switch values[i].content {
            case .simple(let text):
                if withUTF8Bytes(text, { body(truncatedToLimit($0), false) }) { return true }
            case .nested(let subs):
                for j in subs.indices where anyLeaf(in: subs[j].values, ovOnly: ovOnly, body) { return true }
            }
        }
        return false
    }

    @inline(__always)
    static func uriText(_ uri: String, _ body: (UnsafeBufferPointer<UInt8>, Bool) -> Bool) -> Bool {
        withUTF8Bytes(uri) { bytes in
            let value = truncatedToLimit(bytes)
            if body(value, false) { return true }
            guard let last = lastComponent(value) else { return false }
            return body(last, true)
        }
    }

    /// `entities/{id}` in a temporary buffer.
    static func withURIText(_ id: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        withUTF8Bytes(id) { idBytes in
            let prefix: StaticString = "entities/"
            let count = prefix.utf8CodeUnitCount + idBytes.count
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
                let p = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
                _ = buffer.initialize(from: p)
                _ = UnsafeMutableBufferPointer(rebasing: buffer[p.count...]).initialize(from: idBytes)
                return body(UnsafeBufferPointer(buffer))
            }
        }
    }

    /// The decimal text of an epoch-millisecond time in a temporary buffer.
    static func withDecimalText(_ number: Int64, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            var i = 24
            var v = number.magnitude
            repeat {
                i -= 1
                buffer[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
            } while v > 0
            if number < 0 {
                i -= 1
                buffer[i] = UInt8(ascii: "-")
            }
            return body(UnsafeBufferPointer(rebasing: buffer[i..<24]))
        }
    }
}
