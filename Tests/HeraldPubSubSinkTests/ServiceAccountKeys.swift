import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldTestSupport

/// Generates a throwaway 2048-bit RSA key pair (PKCS#8 private PEM, SubjectPublicKeyInfo public PEM).
func generateRSAKey(in dir: TemporaryDirectory, name: String) throws -> (privatePath: String, publicPath: String) {
    let privatePath = dir.file("\(name).pem")
    let publicPath = dir.file("\(name).pub.pem")
    let script = """
        import sys
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives import serialization
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        open(sys.argv[1], "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        open(sys.argv[2], "wb").write(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        """
    let r = try runCommand("/usr/bin/env", ["python3", "-c", script, privatePath, publicPath])
    guard r.status == 0 else {
        throw SetupError(
            "cannot generate an RSA key with python3 + cryptography (pip install cryptography): \(r.stderr)")
    }
    return (privatePath, publicPath)
}

/// Writes a service-account key file like the ones GCP issues.
func writeServiceAccountKey(in dir: TemporaryDirectory, privateKeyPath: String, email: String, tokenURI: String) throws
    -> String
{
    let pem = try String(contentsOfFile: privateKeyPath, encoding: .utf8)
    var w = JSONWriter()
    w.beginObject()
    for (k, v) in [
        ("type", "service_account"), ("project_id", "herald-auth"), ("private_key_id", "0123456789abcdef"),
        ("private_key", pem), ("client_email", email), ("client_id", "1234567890"),
        ("auth_uri", "https://accounts.google.com/o/oauth2/auth"), ("token_uri", tokenURI),
    ] {
        w.key(k)
        w.string(v)
    }
    w.endObject()
    let path = dir.file("service-account.json")
    _ = FileManager.default.createFile(atPath: path, contents: Data(w.bytes))
    return path
}

/// The built plugin and file-sink libraries, or a clear error naming the build command.
func builtLibrary(_ product: String) throws -> String {
    let path = BuildProducts.directory + "/lib\(product).so"
    guard FileManager.default.fileExists(atPath: path) else {
        throw SetupError("\(path) is missing: build it first (swift build --product \(product))")
    }
    return path
}
