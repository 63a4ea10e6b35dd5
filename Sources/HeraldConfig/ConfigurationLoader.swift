import Foundation
import HeraldJSON
import HeraldMatchRules
import HeraldModel

/// Why a configuration file was refused: every problem, each with its JSON path.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var issues: [JSONShapeIssue]

    public init(file: String, issues: [JSONShapeIssue]) {
        self.file = file
        self.issues = issues
    }

    public var description: String {
        var out = "\(file): \(issues.count) configuration error\(issues.count == 1 ? "" : "s")"
        for issue in issues { out += "\n  \(issue.path): \(issue.message)" }
        return out
    }
}

extension HeraldConfiguration {
    /// Reads and validates a configuration file; nothing is started.
    ///
    /// - Throws: `ConfigurationError` listing every problem (syntax errors have the byte offset).
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> HeraldConfiguration
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                file: path, issues: [JSONShapeIssue(path: .root, message: "cannot read the file (missing or not readable)")])
        }
        let base = (((path as NSString).standardizingPath as NSString).deletingLastPathComponent)
        let baseDirectory = base.isEmpty ? FileManager.default.currentDirectoryPath : absolute(base)
        return try parse(bytes: [UInt8](data), file: path, baseDirectory: baseDirectory, environment: environment)
    }

    /// Parses configuration JSON; relative paths resolve against `baseDirectory`.
    public static func parse(
        bytes: [UInt8], file: String = "<config>", baseDirectory: String,
        environment: [String: String] = [:]
    ) throws -> HeraldConfiguration {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw ConfigurationError(file: file, issues: [JSONShapeIssue(path: .root, message: "invalid JSON: \(error)")])
        }
        let issues = JSONShapeIssues()
        let config = read(json, issues: issues, baseDirectory: baseDirectory, environment: environment)
        if let config, issues.isEmpty { return config }
        throw ConfigurationError(file: file, issues: issues.issues)
    }

    static func read(_ json: JSONValue, issues: JSONShapeIssues, baseDirectory: String, environment: [String: String])
        -> HeraldConfiguration?
    {
        guard var root = JSONObjectReader(json, at: .root, issues: issues) else { return nil }
        let server =
            root.object("server") { r in
                var s = ServerConfiguration.read(&r, environment: environment)
                s.readConnectionSettings(&r, baseDirectory: baseDirectory)
                return s
            } ?? ServerConfiguration()
        let dataDirectoryGiven = root.members.contains { $0.key == "dataDirectory" && $0.value != .null }
        var dataDirectory = root.string("dataDirectory")
        if dataDirectory?.isEmpty == true {
            root.report("dataDirectory", "must not be empty")
            dataDirectory = nil
        }
        let pluginDirectories = (root.stringArray("pluginDirectories") ?? []).map { resolve($0, against: baseDirectory) }
        var storeWarnings: [JSONShapeIssue] = []
        var backendName: String? = "sqlite"
        let store =
            root.object("store") { r in
                StoreConfiguration.read(&r, warnings: &storeWarnings, backendName: &backendName)
            } ?? StoreConfiguration()
        // The SQLite store lives in the data directory; the PostgreSQL store needs none. (A `backend` that was
        // refused, and reported, does not make `dataDirectory` required as well.)
        let cluster = root.object("cluster") { r in ClusterConfiguration.read(&r) } ?? ClusterConfiguration()
        let needsDataDirectory = backendName == "sqlite"
        if needsDataDirectory && !dataDirectoryGiven {
            root.report("dataDirectory", "required key 'dataDirectory' is missing (the SQLite store lives there)")
        }
        let tenants = root.objects("tenants", required: true) { r in TenantConfiguration.read(&r) } ?? []
        root.finish()

        var seen = Set<String>()
        for (i, t) in tenants.enumerated() where !seen.insert(t.id).inserted {
            issues.report(JSONPath.root + "tenants" + i + "id", "duplicate tenant id '\(t.id)'")
        }
        let warnings = ServerConfiguration.checkTokenScopes(server.tokens, tenants: tenants, issues: issues)
        if needsDataDirectory && dataDirectory == nil { return nil }
        var configuration = HeraldConfiguration(
            server: server, dataDirectory: dataDirectory.map { resolve($0, against: baseDirectory) },
            pluginDirectories: pluginDirectories, store: store, tenants: tenants)
        configuration.cluster = cluster
        configuration.warnings = storeWarnings + warnings
        return configuration
    }

    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        return ((base as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }

    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path) as NSString)
            .standardizingPath
    }

    /// One line per tenant, for `herald config check`.
    public var summary: String {
        var lines = [
            "server: \(server.host):\(server.port), \(server.tokens.count) token(s)",
            store.summary(dataDirectory: dataDirectory),
            "plugin directories: \(pluginDirectories.isEmpty ? "(none)" : pluginDirectories.joined(separator: ", "))",
        ]
        for t in tenants {
            let attributeCount = t.schema.entityTypes.reduce(0) { $0 + $1.attributes.count }
            lines.append(
                "tenant \(t.id): \(t.schema.entityTypes.count) entity type(s), \(attributeCount) attribute(s), "
                    + "\(t.schema.sources.count) source(s), \(t.streaming.providers.count) provider(s), "
                    + "\(t.streaming.destinations.count) destination(s)")
        }
        return lines.joined(separator: "\n")
    }
}

extension ServerConfiguration {
    static func read(_ r: inout JSONObjectReader, environment: [String: String]) -> ServerConfiguration {
        var s = ServerConfiguration()
        if let host = r.string("host") { s.host = host }
        if let port = r.int("port", in: 0...65535) { s.port = Int(port) }
        if let max = r.int("maxRequestBytes", in: 1024...(1 << 30)) { s.maxRequestBytes = Int(max) }
        if let max = r.int("maxEntitiesPerRequest", in: 1...100_000) { s.maxEntitiesPerRequest = Int(max) }
        s.tokens =
            r.objects("tokens") { t -> AccessToken? in
                let name = t.string("name", required: true)
                let literal = t.string("token")
                let variable = t.string("tokenEnv")
                let role = t.choice("role", AccessToken.Role.allCases.map(\.rawValue)).flatMap(AccessToken.Role.init)
                if t.value("role") == nil { t.report("role", "required key 'role' is missing (read, write or admin)") }
                var token = literal
                if literal != nil && variable != nil {
                    t.report("tokenEnv", "give either 'token' or 'tokenEnv', not both")
                } else if let variable {
                    token = environment[variable]
                    if token == nil || token!.isEmpty {
                        t.report("tokenEnv", "environment variable '\(variable)' is not set")
                    }
                } else if literal == nil {
                    t.report("token", "required: 'token' (the secret) or 'tokenEnv' (a variable holding it)")
                }
                if let token, token.utf8.count < 16 {
                    t.report(variable == nil ? "token" : "tokenEnv", "a token needs at least 16 characters")
                }
                let tenants = readTokenTenants(&t)
                guard let name, let token, let role else { return nil }
                return AccessToken(name: name, token: token, role: role, tenants: tenants ?? .all, tenantsGiven: tenants != nil)
            } ?? []
        var seen = Set<String>()
        for (i, t) in s.tokens.enumerated() where !seen.insert(t.token).inserted {
            r.issues.report(r.path + "tokens" + i, "the same token is given twice")
        }
        return s
    }

    /// `tokens[].tenants`: `"*"` or a non-empty list of tenant ids (nil when absent or invalid).
    static func readTokenTenants(_ t: inout JSONObjectReader) -> AccessToken.Tenants? {
        guard let value = t.value("tenants") else { return nil }
        switch value {
        case .string("*"):
            return .all
        case .array(let elements) where !elements.isEmpty:
            var ids = Set<String>()
            for (i, e) in elements.enumerated() {
                guard case .string(let id) = e, !id.isEmpty else {
                    t.issues.report(t.path + "tenants" + i, "expected a tenant id (a string), found \(e.kindDescription)")
                    continue
                }
                if id == "*" {
                    t.issues.report(t.path + "tenants" + i, "'*' stands alone: write \"tenants\": \"*\" for every tenant")
                }
                ids.insert(id)
            }
            return .only(ids)
        default:
            t.report("tenants", "expected \"*\" (every tenant) or a non-empty array of tenant ids, found \(value.kindDescription)")
            return nil
        }
    }

    /// Checks token scopes against the configured tenants; returns warnings for tokens without a scope.
    static func checkTokenScopes(_ tokens: [AccessToken], tenants: [TenantConfiguration], issues: JSONShapeIssues)
        -> [JSONShapeIssue]
    {
        let known = Set(tenants.map(\.id))
        var warnings: [JSONShapeIssue] = []
        for (i, token) in tokens.enumerated() {
            let path = JSONPath.root + "server" + "tokens" + i
            if !token.tenantsGiven {
                warnings.append(
                    JSONShapeIssue(
                        path: path,
                        message: "token '\(token.name)' has no 'tenants': it acts on every tenant, as \"tenants\": \"*\" "
                            + "does; name its tenants (\"tenants\": [\"…\"]) or write \"*\" to keep it"))
            }
            if case .only(let ids) = token.tenants {
                for id in ids.sorted() where !known.contains(id) && id != "*" {
                    issues.report(
                        path + "tenants",
                        "unknown tenant '\(id)' (configured: \(known.sorted().joined(separator: ", ")))")
                }
            }
        }
        return warnings
    }
}

extension TenantConfiguration {
    /// Most alias tables a tenant may define, and most names in all of them.
    static let maxAliasTables = 16
    static let maxAliasNames = 200_000

    /// `aliasTables`: the tenant's own name alias tables, `[{"name", "extends"?, "groups": [[canonical, alias…]]}]`,
    /// added to the shipped ones (`englishGivenNames`).
    static func readAliasTables(_ r: inout JSONObjectReader) -> AliasTables {
        var tables = AliasTables.shipped
        let shippedNames = Set(AliasTables.shipped.tables.keys)
        var names = 0
        let read =
            r.objects("aliasTables") { t -> AliasTable? in
                let name = t.string("name", required: true)
                let base = t.string("extends")
                var groups: [[String]] = []
                if let list = t.value("groups", required: true) {
                    if case .array(let elements) = list, !elements.isEmpty {
                        for (i, e) in elements.enumerated() {
                            guard case .array(let members) = e, !members.isEmpty, members.count <= 1_000 else {
                                t.issues.report(
                                    t.path + "groups" + i,
                                    "expected an array of 1 to 1000 names, the canonical name first: [\"William\", \"Bill\", \"Will\"]")
                                continue
                            }
                            var group: [String] = []
                            for (j, m) in members.enumerated() {
                                guard case .string(let text) = m, !text.isEmpty, text.utf8.count <= 128,
                                    !Normalizer.cleanse(text).isEmpty
                                else {
                                    t.issues.report(
                                        t.path + "groups" + i + j, "expected a name (1 to 128 bytes with a letter or digit)")
                                    continue
                                }
                                group.append(text)
                            }
                            names += group.count
                            groups.append(group)
                        }
                    } else {
                        t.report("groups", "expected a non-empty array of name groups: [[\"William\", \"Bill\"], …]")
                    }
                }
                guard let name else { return nil }
                if !name.utf8.allSatisfy({ isIdentifierByte($0) }) || name.utf8.count > 64 {
                    t.report("name", "'\(name)' may only contain letters, digits, '-' and '_' (at most 64)")
                    return nil
                }
                if shippedNames.contains(name) {
                    t.report(
                        "name", "'\(name)' is a shipped table: give yours another name, with \"extends\": \"\(name)\" to add to it")
                    return nil
                }
                if tables[name] != nil {
                    t.report("name", "duplicate alias table '\(name)'")
                    return nil
                }
                var table = AliasTable(name: name, groups: groups)
                if let base {
                    guard let b = tables[base] else {
                        t.report("extends", "no alias table '\(base)' (shipped: \(shippedNames.sorted().joined(separator: ", ")))")
                        return nil
                    }
                    table = b.adding(groups, name: name)
                }
                tables.add(table)
                return table
            } ?? []
        if read.count > maxAliasTables {
            r.report("aliasTables", "at most \(maxAliasTables) alias tables per tenant (found \(read.count))")
        }
        if names > maxAliasNames {
            r.report("aliasTables", "at most \(maxAliasNames) names in all alias tables (found \(names))")
        }
        return tables
    }

    static func read(_ r: inout JSONObjectReader) -> TenantConfiguration? {
        let id = r.string("id", required: true)
        if let id, !id.utf8.allSatisfy({ isIdentifierByte($0) }) {
            r.report("id", "'\(id)' may only contain letters, digits, '-' and '_' (it appears in URLs)")
        }
        let sources = r.objects("sources") { s in readSource(&s) } ?? []
        let aliasTables = readAliasTables(&r)
        var matching: [String: EntityMatching] = [:]
        let entityTypes =
            r.objects("entityTypes", required: true) { t -> EntityTypeDefinition? in
                guard let definition = readEntityType(&t) else { return nil }
                let m = MatchConfigurationReader.read(
                    &t, entityType: definition, sources: sources, aliasTables: aliasTables)
                if !m.groups.isEmpty || t.members.contains(where: { $0.key == "survivorshipGroups" }) {
                    matching[definition.uri] = m
                }
                return definition
            } ?? []
        let relationTypes = r.objects("relationTypes") { t in readRelationType(&t) } ?? []
        var limits = ObjectLimits()
        _ = r.object("limits") { l -> Bool in
            if let v = l.int("maxValuesPerAttribute", in: 1...100_000) { limits.maxValuesPerAttribute = Int(v) }
            if let v = l.int("maxValueBytes", in: 1...(16 << 20)) { limits.maxValueBytes = Int(v) }
            if let v = l.int("maxCrosswalksPerEntity", in: 1...100_000) { limits.maxCrosswalksPerEntity = Int(v) }
            if let v = l.int("maxEntitiesPerToken", in: 2...1_000_000) { limits.maxEntitiesPerToken = Int(v) }
            if let v = l.int("maxEntitiesPerCoarseToken", in: 2...1_000_000) { limits.maxEntitiesPerCoarseToken = Int(v) }
            return true
        }
        var seenTypes = Set<String>()
        for (i, t) in entityTypes.enumerated() where !seenTypes.insert(t.uri).inserted {
            r.issues.report(r.path + "entityTypes" + i + "uri", "duplicate entity type '\(t.uri)'")
        }
        var seenSources = Set<String>()
        for (i, s) in sources.enumerated() where !seenSources.insert(s.uri).inserted {
            r.issues.report(r.path + "sources" + i + "uri", "duplicate source '\(s.uri)'")
        }
        var schema = TenantSchema(tenant: id ?? "", entityTypes: entityTypes, sources: sources, limits: limits)
        schema.relationTypes = relationTypes
        for (i, rt) in relationTypes.enumerated() {
            for (end, type) in [("startObject", rt.startType), ("endObject", rt.endType)] {
                if let type, schema.entityType(type) == nil {
                    r.issues.report(
                        r.path + "relationTypes" + i + end + "objectTypeURI", "unknown entity type '\(type)'")
                }
            }
        }
        let streaming = r.object("streamingConfig") { s in StreamingConfiguration.read(&s, schema: schema) }
        guard let id else { return nil }
        schema.tenant = id
        return TenantConfiguration(
            id: id, schema: schema, streaming: streaming ?? StreamingConfiguration(), matching: matching)
    }

    static func readEntityType(_ r: inout JSONObjectReader) -> EntityTypeDefinition? {
        let uri = r.string("uri", required: true)
        let label = r.string("label")
        if let uri, !uri.hasPrefix("configuration/entityTypes/") || uriLastComponent(uri).isEmpty {
            r.report("uri", "'\(uri)' must look like 'configuration/entityTypes/{Name}'")
        }
        let attributes = readAttributes(&r, parentURI: uri ?? "configuration/entityTypes/?", nested: false)
        guard let uri else { return nil }
        return EntityTypeDefinition(uri: uri, label: label, attributes: attributes)
    }

    static func readRelationType(_ r: inout JSONObjectReader) -> RelationTypeDefinition? {
        let uri = r.string("uri", required: true)
        let label = r.string("label")
        if let uri, !uri.hasPrefix("configuration/relationTypes/") || uriLastComponent(uri).isEmpty {
            r.report("uri", "'\(uri)' must look like 'configuration/relationTypes/{Name}'")
        }
        let start = r.object("startObject") { o in o.string("objectTypeURI", required: true) }
        let end = r.object("endObject") { o in o.string("objectTypeURI", required: true) }
        let attributes = readAttributes(&r, parentURI: uri ?? "configuration/relationTypes/?", nested: false)
        guard let uri else { return nil }
        return RelationTypeDefinition(
            definition: EntityTypeDefinition(uri: uri, label: label, attributes: attributes), startType: start ?? nil,
            endType: end ?? nil)
    }

    static func readAttributes(_ r: inout JSONObjectReader, parentURI: String, nested: Bool) -> [AttributeDefinition] {
        let attributes =
            r.objects("attributes") { a -> AttributeDefinition? in
                let name = a.string("name")
                let uri = a.string("uri")
                let label = a.string("label")
                let typeName = a.choice("type", AttributeDataType.allCases.map(\.rawValue))
                let resolvedName = name ?? uri.map(uriLastComponent)
                guard let resolvedName, !resolvedName.isEmpty else {
                    a.report("name", "required: 'name' (or a 'uri' ending with it)")
                    return nil
                }
                if !resolvedName.utf8.allSatisfy({ isIdentifierByte($0) }) {
                    a.report("name", "'\(resolvedName)' may only contain letters, digits, '-' and '_'")
                }
                let expectedURI = parentURI + "/attributes/" + resolvedName
                if let uri, uri != expectedURI {
                    a.report("uri", "'\(uri)' does not match its place; expected '\(expectedURI)'")
                }
                let dataType = typeName.flatMap(AttributeDataType.init) ?? .string
                var children: [AttributeDefinition] = []
                if dataType == .nested {
                    if nested {
                        a.report("type", "nested attributes cannot contain nested attributes")
                    }
                    children = readAttributes(&a, parentURI: expectedURI, nested: true)
                    if children.isEmpty { a.report("attributes", "a Nested attribute needs at least one sub-attribute") }
                } else if a.value("attributes") != nil {
                    a.report("attributes", "only attributes of type 'Nested' have sub-attributes")
                }
                return AttributeDefinition(
                    name: resolvedName, uri: expectedURI, label: label, dataType: dataType, attributes: children)
            } ?? []
        var seen = Set<String>()
        for (i, a) in attributes.enumerated() where !seen.insert(a.name).inserted {
            r.issues.report(r.path + "attributes" + i + "name", "duplicate attribute '\(a.name)'")
        }
        return attributes
    }

    static func readSource(_ r: inout JSONObjectReader) -> SourceDefinition? {
        let uri = r.string("uri", required: true)
        let abbreviation = r.string("abbreviation")
        let label = r.string("label")
        if let uri, !uri.hasPrefix("configuration/sources/") || uriLastComponent(uri).isEmpty {
            r.report("uri", "'\(uri)' must look like 'configuration/sources/{Name}'")
        }
        guard let uri else { return nil }
        return SourceDefinition(uri: uri, abbreviation: abbreviation, label: label)
    }
}

func isIdentifierByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
}
