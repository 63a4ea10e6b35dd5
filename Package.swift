// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "herald",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "herald", targets: ["HeraldCLI"]),
        .executable(name: "herald-bench", targets: ["HeraldBench"]),
        // Sink plugins (loaded with dlopen; see plugins.d/).
        .library(name: "herald-sink-file", type: .dynamic, targets: ["HeraldFileSink"]),
        .library(name: "herald-sink-sqs", type: .dynamic, targets: ["HeraldSQSSink"]),
        .library(name: "herald-sink-kafka", type: .dynamic, targets: ["HeraldKafkaSink"]),
        .library(name: "herald-sink-pubsub", type: .dynamic, targets: ["HeraldPubSubSink"]),
        .library(name: "herald-sink-servicebus", type: .dynamic, targets: ["HeraldServiceBusSink"]),
        .library(name: "herald-sink-test", type: .dynamic, targets: ["HeraldTestSinkC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        // The HTTP server's own channel handlers (connection caps, timeouts, TLS) use NIO directly.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The JSON reader's hot loop (runs of plain string bytes, 16 at a time).
        .target(name: "CHeraldJSON", path: "Sources/CHeraldJSON"),
        .target(name: "HeraldJSON", dependencies: ["CHeraldJSON"]),
        .target(name: "HeraldModel", dependencies: ["HeraldJSON"]),
        // glibc's <malloc.h>: the daemon gives freed memory back (malloc_trim).
        .systemLibrary(name: "CMalloc"),
        // The store's interfaces (entity store, match index, event log, delivery ledger) and the types they
        // share; the stages depend on these only. Implementations: HeraldSQLite (embedded default),
        // HeraldPostgres (several nodes).
        .target(
            name: "HeraldStorage",
            dependencies: ["HeraldModel", "HeraldJSON", "CMalloc", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "HeraldSQLite",
            dependencies: [
                "HeraldStorage", "HeraldModel", "HeraldJSON",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The PostgreSQL store (several nodes on one database): postgres-nio's connections, no ORM.
        .target(
            name: "HeraldPostgres",
            dependencies: [
                "HeraldStorage", "HeraldModel", "HeraldJSON",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // RE2 behind a plain C interface, for the filter's regexp (C++ stays out of the Swift modules).
        .target(name: "CHeraldRE2", linkerSettings: [.linkedLibrary("re2")]),
        .target(name: "HeraldFilter", dependencies: ["HeraldModel", "HeraldJSON", "CHeraldRE2"]),
        // Match rules as configured (plain values and their readers) and survivorship; the engine that
        // compiles them (tokens, comparators) is HeraldMatch, which the configuration does not need.
        .target(name: "HeraldMatchRules", dependencies: ["HeraldModel", "HeraldJSON"]),
        .target(name: "HeraldMatch", dependencies: ["HeraldMatchRules", "HeraldModel", "HeraldJSON"]),
        .target(name: "HeraldConfig", dependencies: ["HeraldModel", "HeraldJSON", "HeraldMatchRules"]),
        // The configuration compiled for the stages (object filters parsed, match engines built, once per load).
        .target(
            name: "HeraldSetup",
            dependencies: [
                "HeraldConfig", "HeraldFilter", "HeraldMatch", "HeraldMatchRules", "HeraldModel", "HeraldJSON", "HeraldPlugins",
                "HeraldStorage", .product(name: "Logging", package: "swift-log"),
            ]),
        // The plugin ABI: one C header, the contract for plugin authors.
        .target(name: "CHeraldSink", path: "Sources/CHeraldSink"),
        .target(
            name: "HeraldIngest",
            dependencies: ["HeraldModel", "HeraldJSON", "HeraldStorage", "HeraldConfig", "HeraldMatch", "HeraldMatchRules"]),
        .target(
            name: "HeraldServer",
            dependencies: [
                "HeraldModel", "HeraldStorage", "HeraldJSON", "HeraldConfig", "HeraldIngest", "HeraldDelivery",
                "HeraldPlugins", "HeraldFilter", "HeraldSetup",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The operator console (/console/): plain files compiled into the binary as byte arrays
            // (PackageResources.index_html, …), no bundle to ship beside it and no build step.
            resources: [
                .embedInCode("Console/index.html"), .embedInCode("Console/console.css"),
                .embedInCode("Console/core.js"), .embedInCode("Console/console.js"),
                .embedInCode("Console/overview.js"), .embedInCode("Console/destination.js"),
                .embedInCode("Console/deadletters.js"), .embedInCode("Console/playground.js"),
                .embedInCode("Console/events.js"),
            ]),
        // Generated person data with a ground truth, and match quality per error kind (MatchQuality of HeraldMatch).
        .target(name: "HeraldSampleData", dependencies: ["HeraldModel", "HeraldJSON", "HeraldMatch"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // gzip for JSON_ZIP_BASE64: ISA-L's igzip compresses (whole buffers, faster than libdeflate and zlib), zlib inflates.
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .target(name: "HeraldPayload", dependencies: ["HeraldModel", "HeraldJSON", "HeraldConfig", "CZlib", "CIsal"]),
        .systemLibrary(name: "CHeraldOpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "HeraldPlugins",
            dependencies: [
                "CHeraldSink", "CHeraldOpenSSL", "HeraldModel", "HeraldJSON",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "HeraldDelivery",
            dependencies: [
                "HeraldModel", "HeraldStorage", "HeraldConfig", "HeraldPayload", "HeraldPlugins", "HeraldFilter",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "HeraldHTTPClient", dependencies: ["CCurl"]),
        .executableTarget(
            name: "HeraldCLI",
            dependencies: [
                "HeraldModel", "HeraldStorage", "HeraldSQLite", "HeraldPostgres", "HeraldServer", "HeraldHTTPClient", "HeraldJSON", "HeraldConfig",
                "HeraldIngest", "HeraldSampleData", "HeraldDelivery", "HeraldPlugins", "HeraldFilter", "HeraldSetup",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]),
        .executableTarget(
            name: "HeraldBench",
            dependencies: [
                "HeraldSampleData", "HeraldHTTPClient", "HeraldJSON", "HeraldModel", "HeraldConfig", "HeraldFilter",
                "HeraldPayload", "HeraldPlugins", "HeraldSQSSinkCore",
                // PostgresCluster: `--store postgres` starts a cluster the way the tests do.
                "HeraldTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // Plugins: each is a shared library built against the ABI (and, for Swift, the SDK) only.
        .target(name: "HeraldSinkSDK", dependencies: ["CHeraldSink", "HeraldJSON"]),
        .target(name: "HeraldFileSinkCore", dependencies: ["HeraldSinkSDK", "HeraldJSON"], path: "Plugins/file", exclude: ["Entry"]),
        .target(name: "HeraldFileSink", dependencies: ["HeraldFileSinkCore", "HeraldSinkSDK"], path: "Plugins/file/Entry"),
        .target(
            name: "HeraldSinkSupport",
            dependencies: ["HeraldSinkSDK", "HeraldJSON", "HeraldHTTPClient", "CHeraldOpenSSL"]),
        // Each cloud sink: a core target (testable logic) and an entry target exporting herald_sink_entry,
        // linked together into the plugin's shared library.
        .target(
            name: "HeraldSQSSinkCore", dependencies: ["HeraldSinkSDK", "HeraldSinkSupport", "HeraldJSON", "HeraldHTTPClient"],
            path: "Plugins/sqs", exclude: ["Entry"]),
        .target(name: "HeraldSQSSink", dependencies: ["HeraldSQSSinkCore", "HeraldSinkSDK"], path: "Plugins/sqs/Entry"),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .target(
            name: "HeraldKafkaSinkCore", dependencies: ["HeraldSinkSDK", "HeraldSinkSupport", "HeraldJSON", "CRdKafka"],
            path: "Plugins/kafka", exclude: ["Entry"]),
        .target(name: "HeraldKafkaSink", dependencies: ["HeraldKafkaSinkCore", "HeraldSinkSDK"], path: "Plugins/kafka/Entry"),
        .target(
            name: "HeraldPubSubSinkCore", dependencies: ["HeraldSinkSDK", "HeraldSinkSupport", "HeraldJSON", "HeraldHTTPClient"],
            path: "Plugins/pubsub", exclude: ["Entry"]),
        .target(name: "HeraldPubSubSink", dependencies: ["HeraldPubSubSinkCore", "HeraldSinkSDK"], path: "Plugins/pubsub/Entry"),
        .target(
            name: "HeraldServiceBusSinkCore",
            dependencies: ["HeraldSinkSDK", "HeraldSinkSupport", "HeraldJSON", "HeraldHTTPClient"],
            path: "Plugins/servicebus", exclude: ["Entry"]),
        .target(
            name: "HeraldServiceBusSink", dependencies: ["HeraldServiceBusSinkCore", "HeraldSinkSDK"],
            path: "Plugins/servicebus/Entry"),
        .target(name: "HeraldTestSinkC", dependencies: ["CHeraldSink"], path: "Plugins/test-sink-c"),

        // Tests
        .target(
            name: "HeraldTestSupport", dependencies: ["HeraldHTTPClient", "HeraldJSON"], path: "Tests/HeraldTestSupport"),
        .testTarget(name: "HeraldJSONTests", dependencies: ["HeraldJSON"]),
        .testTarget(name: "HeraldModelTests", dependencies: ["HeraldModel", "HeraldJSON"]),
        // The ingest stage in process, on a real SQLite store (MatchOrderIndependenceTests).
        .testTarget(
            name: "HeraldIngestTests",
            dependencies: [
                "HeraldIngest", "HeraldSQLite", "HeraldStorage", "HeraldConfig", "HeraldMatch", "HeraldModel", "HeraldJSON",
                "HeraldSampleData", "HeraldTestSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "HeraldMatchTests", dependencies: ["HeraldMatch", "HeraldMatchRules", "HeraldModel", "HeraldJSON", "HeraldSampleData"]),
        .testTarget(name: "HeraldFilterTests", dependencies: ["HeraldFilter", "HeraldModel", "HeraldJSON"]),
        .testTarget(
            name: "HeraldConfigTests",
            dependencies: ["HeraldConfig", "HeraldSetup", "HeraldJSON", "HeraldModel", "HeraldMatch", "HeraldMatchRules"]),
        .testTarget(
            name: "HeraldSQLiteTests",
            dependencies: ["HeraldSQLite", "HeraldStorage", "HeraldModel", "HeraldTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        // The store contract, run on every backend (SQLite and a real PostgreSQL the tests start).
        .testTarget(
            name: "HeraldStoreContractTests",
            dependencies: [
                "HeraldStorage", "HeraldSQLite", "HeraldPostgres", "HeraldModel", "HeraldTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]),
        .testTarget(name: "HeraldSinkSDKTests", dependencies: ["HeraldSinkSDK", "CHeraldSink", "HeraldJSON"]),
        .testTarget(name: "HeraldFileSinkTests", dependencies: ["HeraldFileSinkCore", "HeraldSinkSDK", "HeraldTestSupport"]),
        .testTarget(
            name: "HeraldSQSSinkTests",
            dependencies: ["HeraldSQSSinkCore", "HeraldSinkSupport", "HeraldSinkSDK", "HeraldTestSupport", "HeraldJSON"]),
        .testTarget(name: "HeraldKafkaSinkTests", dependencies: ["HeraldKafkaSinkCore", "HeraldSinkSDK", "HeraldTestSupport", "HeraldJSON"]),
        .testTarget(
            name: "HeraldPubSubSinkTests",
            dependencies: [
                "HeraldPubSubSinkCore", "HeraldSinkSupport", "HeraldSinkSDK", "HeraldHTTPClient", "HeraldTestSupport", "HeraldJSON",
            ]),
        .testTarget(
            name: "HeraldServiceBusSinkTests",
            dependencies: [
                "HeraldServiceBusSinkCore", "HeraldSinkSupport", "HeraldSinkSDK", "HeraldHTTPClient", "HeraldTestSupport",
                "HeraldJSON",
            ]),
        .testTarget(
            name: "HeraldPayloadTests",
            dependencies: ["HeraldPayload", "HeraldConfig", "HeraldModel", "HeraldJSON", "HeraldDelivery", "HeraldTestSupport"]),
        .testTarget(
            name: "HeraldDeliveryTests",
            dependencies: [
                "HeraldTestSupport", "HeraldJSON", "HeraldPayload", "HeraldDelivery", "HeraldConfig", "HeraldHTTPClient",
                "HeraldModel", "HeraldPlugins", "HeraldStorage", "HeraldSQLite", .product(name: "Logging", package: "swift-log"),
            ]),
        // The REST routes in process (HummingbirdTesting's router framework), against a real SQLite store.
        .testTarget(
            name: "HeraldServerTests",
            dependencies: [
                "HeraldServer", "HeraldTestSupport", "HeraldJSON", "HeraldConfig", "HeraldStorage", "HeraldSQLite", "HeraldModel",
                "HeraldIngest", "HeraldDelivery", "HeraldPlugins", "HeraldSetup",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .testTarget(
            name: "HeraldIntegrationTests",
            dependencies: [
                "HeraldTestSupport", "HeraldJSON", "HeraldHTTPClient", "HeraldSQLite", "HeraldPostgres", "HeraldStorage",
                "HeraldModel",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ]
)
