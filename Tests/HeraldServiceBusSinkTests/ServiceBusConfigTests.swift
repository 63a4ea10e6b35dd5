import HeraldSinkSDK
import HeraldServiceBusSinkCore
import Testing

@Suite struct ServiceBusConfigTests {
    @Test func connectionStringsAreParsed() throws {
        let cs = try ConnectionString.parse(
            " Endpoint=sb://herald-test.servicebus.windows.net/ ; SharedAccessKeyName=send;sharedaccesskey=ab+c/d==;EntityPath=orders; "
        )
        #expect(cs.baseURL == "https://herald-test.servicebus.windows.net")
        #expect(cs.keyName == "send")
        #expect(cs.key == "ab+c/d==", "split at the first '=' only: the key keeps its padding")
        #expect(cs.entityPath == "orders")
        let bad: [(String, String)] = [
            ("SharedAccessKeyName=a;SharedAccessKey=b", "has no Endpoint"),
            ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=b", "has no SharedAccessKeyName"),
            ("Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a", "has no SharedAccessKey"),
            ("Endpoint=sb://x/;SharedAccessSignature=SharedAccessSignature sr=x", "not supported"),
            ("Endpoint=amqp://x/;SharedAccessKeyName=a;SharedAccessKey=b", "must look like sb://"),
            ("Endpoint", "item 1 of 1 has no '='"),
        ]
        for (text, expected) in bad {
            do {
                _ = try ConnectionString.parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }

    @Test func configurationFormsAndChecks() throws {
        let fromString = try ServiceBusConfig.parse(
            #"{"connectionString": "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k1", "maxMessageBytes": 1048576}"#
        )
        #expect(
            fromString.baseURL == "https://ns1.servicebus.windows.net" && fromString.keyName == "send"
                && fromString.key == "k1")
        #expect(fromString.maxMessageBytes == 1_048_576)
        let urls = fromString.urls(entity: "orders")
        #expect(urls.messages == "https://ns1.servicebus.windows.net/orders/messages")
        #expect(urls.resource == "https://ns1.servicebus.windows.net/orders")
        let parts = try ServiceBusConfig.parse(#"{"namespace": "ns2", "keyName": "a", "key": "b"}"#)
        #expect(parts.baseURL == "https://ns2.servicebus.windows.net" && parts.maxMessageBytes == 262_144)
        let local = try ServiceBusConfig.parse(
            #"{"connectionString": "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k1", "endpoint": "http://127.0.0.1:9/", "allowPlainHTTP": true}"#
        )
        #expect(local.baseURL == "http://127.0.0.1:9")
        let bad: [(String, String)] = [
            (#"{}"#, "needs \"connectionString\""),
            (#"{"namespace": "ns", "keyName": "a"}"#, "needs"),
            (
                #"{"connectionString": "Endpoint=sb://a/;SharedAccessKeyName=b;SharedAccessKey=c", "key": "d"}"#,
                "not both"
            ),
            (#"{"namespace": "ns", "keyName": "a", "key": "b", "endpoint": "http://127.0.0.1:9"}"#, "allowPlainHTTP"),
            (#"{"namespace": "ns/x", "keyName": "a", "key": "b"}"#, "not a Service Bus namespace"),
            (#"{"namespace": "ns", "keyName": "a", "key": "b", "maxMessageBytes": 2000000}"#, "out of range"),
            (#"{"namespace": "ns", "keyName": "a", "key": "b", "endpoint": "https://h/path"}"#, "without a path"),
            (
                #"{"namespace": "ns", "keyName": "a", "key": "b", "tokenTTLSeconds": 60}"#,
                "did you mean 'tokenTtlSeconds'"
            ),
        ]
        for (text, expected) in bad {
            do {
                _ = try ServiceBusConfig.parse(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }

    /// Issue 13: a malformed connection string's error must not echo the key, whole or in part.
    @Test func malformedConnectionStringErrorsDoNotEchoTheKey() throws {
        // 44 characters like a portal key, without '=' padding so that a fragment of it has no '='.
        let key = "Qm9ndXNLZXlGb3JIZXJhbGRUZXN0c1NlY3JldDAxMjM0"
        let ns = "sb://ns1.servicebus.windows.net/"
        let malformed: [(String, String)] = [
            // The key contains ';': its tail becomes an item without '='.
            (
                "Endpoint=\(ns);SharedAccessKeyName=send;SharedAccessKey=Qm9n;\(key.dropFirst(4))",
                "item 4 of 4 has no '='"
            ),
            // The key pasted without its name.
            ("Endpoint=\(ns);SharedAccessKeyName=send;\(key)", "item 3 of 3 has no '='"),
            // Items separated by spaces or commas: the Endpoint's value holds the key.
            ("Endpoint=\(ns) SharedAccessKeyName=send SharedAccessKey=\(key)", "separate items with ';'"),
            ("Endpoint=\(ns),SharedAccessKeyName=send,SharedAccessKey=\(key)", "separate items with ';'"),
            // The key pasted into the Endpoint, without a scheme, with a wrong one, after the host.
            (
                "Endpoint=ns1.servicebus.windows.net/\(key);SharedAccessKeyName=send;SharedAccessKey=\(key)",
                "it has no scheme"
            ),
            (
                "Endpoint=amqps://ns1.servicebus.windows.net/\(key);SharedAccessKeyName=send;SharedAccessKey=\(key)",
                "'amqps://'"
            ),
            ("Endpoint=\(ns) \(key);SharedAccessKeyName=send;SharedAccessKey=\(key)", "nothing after the host name"),
        ]
        for (text, expected) in malformed {
            var messages: [String] = []
            do {
                _ = try ConnectionString.parse(text)
                Issue.record("accepted a malformed connection string")
            } catch {
                messages.append("\(error)")
            }
            do {
                _ = try ServiceBusConfig.parse(#"{"connectionString": "\#(text)"}"#)
                Issue.record("accepted a malformed connection string")
            } catch {
                messages.append("\(error)")
            }
            #expect(messages.count == 2)
            for message in messages {
                #expect(message.contains(expected), "\(message)")
                // No 8-character run of the key: the old text quoted up to 40 characters of an item.
                let leaked = (0...(key.count - 8)).contains { message.contains(key.dropFirst($0).prefix(8)) }
                #expect(!leaked, "the error quotes (part of) the key: \(message)")
            }
        }
    }

    @Test func anEntityScopedConnectionStringOnlySendsToItsEntity() throws {
        let config = try ServiceBusConfig.parse(
            #"{"connectionString": "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k1;EntityPath=Orders"}"#
        )
        let sender = ServiceBusSender(config: config, reporter: nil)
        #expect(sender.entityProblem("orders") == nil, "entity names are case-insensitive")
        #expect(sender.entityProblem("events")?.contains("scoped to entity 'Orders'") == true)
    }
}

@Suite struct ServiceBusConfigKeyTests {
    @Test func concurrencyIsTheDeprecatedNameOfMaxInFlight() throws {
        var warnings: [String] = []
        let old = try ServiceBusConfig.read(#"{"namespace": "ns", "keyName": "a", "key": "b", "concurrency": 3}"#) {
            warnings.append($0)
        }
        #expect(old.maxInFlight == 3 && warnings.count == 1)
        #expect(old.baseURL == "https://ns.servicebus.windows.net")
        let schema = ServiceBusSink.Configuration.schema
        #expect(schema == AsyncSinkAdapter<ServiceBusSink>.configSchema)
        #expect(schema.contains(#""maxInFlight":{"type":"integer","minimum":1,"maximum":64,"default":4,"#))
        #expect(schema.contains(#""concurrency":{"type":"integer","minimum":1,"maximum":64,"default":4,"deprecated":true"#))
    }
}
