/// JSON Merge Patch (RFC 7396): what `PATCH` applies to a JSON document.
public enum JSONMergePatch {
    /// `patch` applied to `target`: members of an object patch replace the target's (recursively), `null` removes a
    /// member, and anything but an object replaces the target whole.
    public static func apply(_ patch: JSONValue, to target: JSONValue?) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var members = target?.objectValue ?? []
        for change in changes {
            let index = members.firstIndex { $0.key == change.key }
            if change.value == .null {
                if let index { members.remove(at: index) }
            } else if let index {
                members[index].value = apply(change.value, to: members[index].value)
            } else {
                members.append(JSONMember(key: change.key, value: apply(change.value, to: nil)))
            }
        }
        return .object(members)
    }
}
