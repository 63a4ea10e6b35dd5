import HeraldConfig
import Testing

/// `server`: what counts as loopback.
struct ServerConfigurationTests {
    @Test(arguments: [
        "127.0.0.1", "127.8.9.10", "127.255.255.254", "localhost", "LocalHost", "::1", "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",
    ])
    func loopbackAddresses(_ host: String) {
        #expect(ServerConfiguration.isLoopbackHost(host))
    }

    @Test(arguments: [
        "127.example.com", "127.0.0.1.nip.io", "127.0.0.1evil", "0.0.0.0", "10.1.2.3", "128.0.0.1", "1.127.0.0", "::",
        "::2", "::ffff:10.0.0.1", "fe80::1", "example.com", "", "localhost.example.com",
    ])
    func nonLoopbackAddresses(_ host: String) {
        #expect(!ServerConfiguration.isLoopbackHost(host))
    }
}
