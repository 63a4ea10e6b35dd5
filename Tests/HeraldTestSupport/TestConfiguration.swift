import Foundation

/// Writes configuration files for tests.
public enum TestConfiguration {
    /// The schema used by most tests: `Individual` with simple, typed and nested attributes; sources CRM, ERP, WEB.
    public static let tenantJSON = """
        {
          "id": "t1",
          "entityTypes": [
            {
              "uri": "configuration/entityTypes/Individual",
              "attributes": [
                {"name": "FirstName", "type": "String"},
                {"name": "LastName", "type": "String"},
                {"name": "Email", "type": "Email"},
                {"name": "BirthDate", "type": "Date"},
                {"name": "Age", "type": "Int"},
                {"name": "Address", "type": "Nested", "attributes": [
                  {"name": "City", "type": "String"},
                  {"name": "Zip", "type": "String"}
                ]}
              ]
            },
            {"uri": "configuration/entityTypes/Organization", "attributes": [{"name": "Name"}]}
          ],
          "sources": [
            {"uri": "configuration/sources/CRM"},
            {"uri": "configuration/sources/ERP"},
            {"uri": "configuration/sources/WEB"}
          ],
          "limits": {"maxValuesPerAttribute": 5, "maxValueBytes": 64, "maxCrosswalksPerEntity": 4}
        }
        """

    /// Writes `herald.json` into `directory` with a data directory beside it (or, with `store`, the store it
    /// says: see ``TestStore``); returns its path.
    /// `server` holds more keys of the `server` object (`"headerTimeoutMs": 1000, …`); `storeKeys` more keys of the
    /// `store` object (`"queueRetentionHours": 0`).
    public static func write(
        in directory: String, tokens: String = "[]", maxRequestBytes: Int = 1 << 20, tenants: String? = nil,
        extra: String = "", server: String = "", store: TestStore? = nil, storeKeys: String = ""
    ) -> String {
        let path = directory + "/herald.json"
        let serverKeys = server.isEmpty ? "" : ", " + server
        let text = """
            {
              "server": {"host": "127.0.0.1", "port": 0, "maxRequestBytes": \(maxRequestBytes), "tokens": \(tokens)\(serverKeys)},
              \((store ?? .sqlite).configurationMembers(storeKeys: storeKeys)),
              \(extra)
              "tenants": [\(tenants ?? tenantJSON)]
            }
            """
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    /// One entity line for the test schema.
    public static func person(
        source: String = "CRM", id: String, first: String? = nil, last: String? = nil, email: String? = nil,
        extra: String = ""
    ) -> String {
        var attributes: [String] = []
        if let first { attributes.append("\"FirstName\": [{\"value\": \"\(first)\"}]") }
        if let last { attributes.append("\"LastName\": [{\"value\": \"\(last)\"}]") }
        if let email { attributes.append("\"Email\": [{\"value\": \"\(email)\"}]") }
        if !extra.isEmpty { attributes.append(extra) }
        return """
            {"type": "configuration/entityTypes/Individual", "attributes": {\(attributes.joined(separator: ", "))}, \
            "crosswalks": [{"type": "configuration/sources/\(source)", "value": "\(id)"}]}
            """
    }
}
