import HeraldConfig
import HummingbirdTLS
import NIOSSL

/// Why `herald serve` cannot start its HTTP server; `message` says what to change.
public struct ServerSetupError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension APIServer {
    /// Refuses plain HTTP off loopback, where bearer tokens would cross the network in clear text, unless
    /// `server.allowPlaintext` says a proxy in front terminates TLS.
    public static func checkTransport(_ server: ServerConfiguration) throws {
        if !server.isLoopback && server.tls == nil && !server.allowPlaintext {
            throw ServerSetupError(
                "refusing to serve plain HTTP on \(server.host): bearer tokens would cross the network unencrypted. "
                    + "Add server.tls {\"certificateFile\", \"keyFile\"}, or set server.allowPlaintext: true if a "
                    + "proxy in front of Herald terminates TLS, or listen on 127.0.0.1")
        }
    }

    /// Loads `server.tls` into a TLS configuration (TLS 1.2 or newer, HTTP/1.1).
    ///
    /// - Throws: `ServerSetupError` naming the file and what is wrong with it; also when the key does not belong
    ///   to the certificate.
    public static func tlsConfiguration(_ files: ServerTLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
        } catch {
            throw ServerSetupError(
                "server.tls.certificateFile: cannot load '\(files.certificateFile)' as PEM certificates (\(error)); "
                    + "give the server certificate, then any intermediates, in PEM form")
        }
        guard !chain.isEmpty else {
            throw ServerSetupError("server.tls.certificateFile: '\(files.certificateFile)' holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.keyFile, format: .pem)
        } catch {
            throw ServerSetupError(
                "server.tls.keyFile: cannot load '\(files.keyFile)' as a PEM private key (\(error)); "
                    + "give the certificate's unencrypted private key in PEM form")
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["http/1.1"]
        do {
            _ = try NIOSSLContext(configuration: tls)
        } catch {
            throw ServerSetupError(
                "server.tls: the key in '\(files.keyFile)' and the certificate in '\(files.certificateFile)' "
                    + "cannot be used together (\(error)); is it the key the certificate was issued for?")
        }
        return tls
    }

    /// The URL `herald serve` prints once listening (IPv6 literals in brackets).
    public static func listeningURL(_ server: ServerConfiguration, port: Int) -> String {
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        return "\(server.tls == nil ? "http" : "https")://\(host):\(port)"
    }
}
