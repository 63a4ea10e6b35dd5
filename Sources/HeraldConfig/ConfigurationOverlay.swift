import HeraldJSON
import HeraldModel

/// What the management API changed, layered over the configuration file when it is read (decision 0014).
///
/// The file stays the base. Each item is the API's version of one destination or provider of one tenant, with the
/// file's version of it when the change was made (`base`). When it is read:
/// - if the file's version still equals `base`, the API's version is used (replaced, added, or removed);
/// - otherwise the file was edited after the API change, and the file wins: the item is `superseded`;
/// - an item that no longer fits the file (its own part of the configuration does not validate against the file's
///   providers or data model) is `retired`, with the problems.
/// Either way the daemon starts with the file, and the caller records (and logs) what was dropped.
public struct ConfigurationOverlay: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        /// Which setting of which tenant.
        public var key: StreamingSettingKey
        /// The API's version (a destination with its `id`, or a provider); nil: removed through the API.
        public var body: JSONValue?
        /// The file's version (compact JSON) when the API changed it; nil: the file did not have it.
        public var base: String?

        public init(key: StreamingSettingKey, body: JSONValue?, base: String?) {
            self.key = key
            self.body = body
            self.base = base
        }

        public init(tenant: String, kind: StreamingSettingKey.Kind, id: String, body: JSONValue?, base: String?) {
            self.init(key: StreamingSettingKey(tenant: tenant, kind: kind, id: id), body: body, base: base)
        }

        public var tenant: String { key.tenant }
        public var kind: StreamingSettingKey.Kind { key.kind }
        public var id: String { key.id }
    }

    public var items: [Item]
    /// Paused destinations: they stay configured and keep their cursor, but nothing is delivered.
    public var paused: Set<DestinationKey>

    public init(items: [Item] = [], paused: Set<DestinationKey> = []) {
        self.items = items
        self.paused = paused
    }

    /// What reading the file with the overlay dropped.
    public struct Outcome: Sendable {
        /// Items whose file version changed after the API change: the file's version is used.
        public var superseded: [Item] = []
        /// Items that no longer fit the file, with the problems that made them not fit.
        public var retired: [(item: Item, issues: [JSONShapeIssue])] = []

        public init() {}

        public var isEmpty: Bool { superseded.isEmpty && retired.isEmpty }
    }
}

/// A configuration read with the API's changes layered over the file.
public struct LayeredConfiguration: Sendable {
    public var configuration: HeraldConfiguration
    /// What of the overlay was dropped.
    public var outcome: ConfigurationOverlay.Outcome
    /// The JSON the configuration was read from: the file's with the overlay applied.
    public var document: JSONValue
    /// The file's own JSON.
    public var file: JSONValue

    /// A destination's JSON as configured (the document's, with its `id` added when the file gave none).
    public func destination(tenant: String, id: String) -> JSONValue? {
        guard let list = HeraldConfiguration.messaging(document, tenant: tenant)?["destinations"]?.arrayValue else {
            return nil
        }
        guard let i = HeraldConfiguration.destinationIds(list).firstIndex(of: id) else { return nil }
        return HeraldConfiguration.withId(list[i], id)
    }

    /// Every destination of a tenant, in order, each with its `id`.
    public func destinations(tenant: String) -> [JSONValue] {
        let list = HeraldConfiguration.messaging(document, tenant: tenant)?["destinations"]?.arrayValue ?? []
        return zip(list, HeraldConfiguration.destinationIds(list)).map { HeraldConfiguration.withId($0, $1) }
    }

    /// Every provider of a tenant, in order: alias and JSON (secrets included: redact before showing).
    public func providers(tenant: String) -> [(alias: String, json: JSONValue)] {
        (HeraldConfiguration.messaging(document, tenant: tenant)?["providers"]?.objectValue ?? []).map { ($0.key, $0.value) }
    }

    /// The JSON path of a setting in the document (where its problems are reported), if it is there.
    public func path(of key: StreamingSettingKey) -> JSONPath? { HeraldConfiguration.path(of: key, in: document) }
}

extension HeraldConfiguration {
    /// Every destination's and provider's JSON as the file has it (compact), by tenant, kind and id: the `base` of an
    /// API change. A destination's id is its `id`, or `provider/name` (`#2`… for further ones), as when read.
    public static func fileSettings(_ json: JSONValue) -> [StreamingSettingKey: String] {
        var out: [StreamingSettingKey: String] = [:]
        for tenant in json["tenants"]?.arrayValue ?? [] {
            guard let id = tenant["id"]?.stringValue, let messaging = tenant["streamingConfig"]?["messaging"] else {
                continue
            }
            for member in messaging["providers"]?.objectValue ?? [] {
                out[StreamingSettingKey(tenant: id, kind: .provider, id: member.key)] = member.value.serializedString()
            }
            let destinations = messaging["destinations"]?.arrayValue ?? []
            for (d, destinationId) in zip(destinations, destinationIds(destinations)) {
                out[StreamingSettingKey(tenant: id, kind: .destination, id: destinationId)] = d.serializedString()
            }
        }
        return out
    }

    /// The JSON path of a setting in `document` (a configuration), if it is there.
    public static func path(of key: StreamingSettingKey, in document: JSONValue) -> JSONPath? {
        guard let tenants = document["tenants"]?.arrayValue,
            let t = tenants.firstIndex(where: { $0["id"]?.stringValue == key.tenant })
        else { return nil }
        let base = JSONPath.root + "tenants" + t + "streamingConfig" + "messaging"
        let messaging = self.messaging(document, tenant: key.tenant)
        switch key.kind {
        case .provider:
            return messaging?["providers"]?[key.id] != nil ? base + "providers" + key.id : nil
        case .destination:
            let list = messaging?["destinations"]?.arrayValue ?? []
            return destinationIds(list).firstIndex(of: key.id).map { base + "destinations" + $0 }
        }
    }

    static func messaging(_ document: JSONValue, tenant: String) -> JSONValue? {
        document["tenants"]?.arrayValue?.first { $0["id"]?.stringValue == tenant }?["streamingConfig"]?["messaging"]
    }

    /// `destination` with `"id": id` first (unless it has an id).
    static func withId(_ destination: JSONValue, _ id: String) -> JSONValue {
        guard var members = destination.objectValue else { return destination }
        if !members.contains(where: { $0.key == "id" }) { members.insert(JSONMember(key: "id", value: .string(id)), at: 0) }
        return .object(members)
    }

    /// The ids of `destinations` (JSON objects) as `StreamingConfiguration.assignIds` gives them.
    public static func destinationIds(_ destinations: [JSONValue]) -> [String] {
        var counts: [String: Int] = [:]
        return destinations.map { d in
            if let id = d["id"]?.stringValue { return id }
            let base = "\(d["provider"]?.stringValue ?? "")/\(d["name"]?.stringValue ?? "")"
            counts[base, default: 0] += 1
            return counts[base]! == 1 ? base : "\(base)#\(counts[base]!)"
        }
    }

    /// Parses configuration JSON with the API's changes layered over it (see `ConfigurationOverlay`).
    ///
    /// - Parameter check: more checks of the result (compiled filters, plugins' validation), returning problems
    ///   with their JSON paths; an item with a problem inside its part is retired like one the reader refuses.
    /// - Throws: `ConfigurationError` for problems of the file itself (or of what the overlay cannot be blamed for).
    public static func parse(
        bytes: [UInt8], file: String = "<config>", baseDirectory: String, environment: [String: String] = [:],
        overlay: ConfigurationOverlay,
        check: (HeraldConfiguration) -> [JSONShapeIssue] = { _ in [] }
    ) throws(ConfigurationError) -> LayeredConfiguration {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw ConfigurationError(file: file, issues: [JSONShapeIssue(path: .root, message: "invalid JSON: \(error)")])
        }
        var outcome = ConfigurationOverlay.Outcome()
        let fileVersions = fileSettings(json)
        var items: [ConfigurationOverlay.Item] = []
        for item in overlay.items {
            if fileVersions[item.key] == item.base { items.append(item) } else { outcome.superseded.append(item) }
        }
        // Each round drops the items a problem is found in; the file alone (no items left) must read.
        while true {
            let (merged, places) = apply(items, to: json)
            let issues = JSONShapeIssues()
            var configuration = read(merged, issues: issues, baseDirectory: baseDirectory, environment: environment)
            if var c = configuration {
                for t in c.tenants.indices {
                    for d in c.tenants[t].streaming.destinations.indices {
                        let key = DestinationKey(tenant: c.tenants[t].id, destination: c.tenants[t].streaming.destinations[d].id)
                        c.tenants[t].streaming.destinations[d].paused = overlay.paused.contains(key)
                    }
                }
                configuration = c
            }
            var problems = issues.issues
            if problems.isEmpty, let c = configuration { problems = check(c) }
            if problems.isEmpty, let c = configuration {
                return LayeredConfiguration(configuration: c, outcome: outcome, document: merged, file: json)
            }
            var blamed: [Int: [JSONShapeIssue]] = [:]
            var unblamed: [JSONShapeIssue] = []
            for problem in problems {
                if let i = places.firstIndex(where: { $0.map { problem.path.components.starts(with: $0.components) } ?? false }) {
                    blamed[i, default: []].append(problem)
                } else {
                    unblamed.append(problem)
                }
            }
            if blamed.isEmpty {
                // A removal has no place to blame: a problem elsewhere may come from one (a destination of the
                // file on a provider the API removed). Without removals left, the problem is the file's.
                let removals = items.indices.filter { items[$0].body == nil }
                if removals.isEmpty { throw ConfigurationError(file: file, issues: problems) }
                for i in removals { blamed[i] = unblamed }
            }
            for (i, issues) in blamed.sorted(by: { $0.key > $1.key }) {
                outcome.retired.append((items[i], issues))
                items.remove(at: i)
            }
        }
    }

    /// The file's JSON with `items` applied, and the path of each item's part in it (`places[i]` for `items[i]`;
    /// nil for a removal, or an item of a tenant the file does not have).
    public static func apply(_ items: [ConfigurationOverlay.Item], to json: JSONValue) -> (JSONValue, [JSONPath?]) {
        var places = [JSONPath?](repeating: nil, count: items.count)
        guard var tenants = json["tenants"]?.arrayValue else { return (json, places) }
        for t in tenants.indices {
            guard let tenantId = tenants[t]["id"]?.stringValue else { continue }
            let mine = items.indices.filter { items[$0].tenant == tenantId }
            if mine.isEmpty { continue }
            let messagingPath = JSONPath.root + "tenants" + t + "streamingConfig" + "messaging"
            var messaging = tenants[t]["streamingConfig"]?["messaging"]?.objectValue ?? []
            var providers = messaging.first { $0.key == "providers" }?.value.objectValue ?? []
            var destinations = messaging.first { $0.key == "destinations" }?.value.arrayValue ?? []
            for i in mine where items[i].kind == .provider {
                let item = items[i]
                let index = providers.firstIndex { $0.key == item.id }
                switch (index, item.body) {
                case (let index?, let body?): providers[index].value = body
                case (let index?, nil): providers.remove(at: index)
                case (nil, let body?): providers.append(JSONMember(key: item.id, value: body))
                case (nil, nil): break
                }
            }
            for i in mine where items[i].kind == .destination {
                let item = items[i]
                let ids = destinationIds(destinations)
                let index = ids.firstIndex(of: item.id)
                switch (index, item.body) {
                case (let index?, let body?): destinations[index] = body
                case (let index?, nil): destinations.remove(at: index)
                case (nil, let body?): destinations.append(body)
                case (nil, nil): break
                }
            }
            // Where each item ended up (after every change, since removals shift indexes).
            let ids = destinationIds(destinations)
            for i in mine {
                let item = items[i]
                switch (item.kind, item.body) {
                case (.provider, .some): places[i] = messagingPath + "providers" + item.id
                case (.destination, .some): places[i] = messagingPath + "destinations" + (ids.firstIndex(of: item.id) ?? 0)
                case (_, nil): places[i] = nil
                }
            }
            set(&messaging, "providers", .object(providers))
            set(&messaging, "destinations", .array(destinations))
            var tenant = tenants[t].objectValue ?? []
            var streaming = tenant.first { $0.key == "streamingConfig" }?.value.objectValue ?? []
            set(&streaming, "messaging", .object(messaging))
            set(&tenant, "streamingConfig", .object(streaming))
            tenants[t] = .object(tenant)
        }
        var root = json.objectValue ?? []
        set(&root, "tenants", .array(tenants))
        return (.object(root), places)
    }

    private static func set(_ members: inout [JSONMember], _ key: String, _ value: JSONValue) {
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = value
        } else {
            members.append(JSONMember(key: key, value: value))
        }
    }
}
