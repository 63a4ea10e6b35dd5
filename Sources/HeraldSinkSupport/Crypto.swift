import CHeraldOpenSSL

/// Hashes and signatures over OpenSSL's libcrypto, for the cloud sinks (SigV4, SAS, JWT).
public enum Crypto {
    public static func sha256(_ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        let bytes = Array(data)
        bytes.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                _ = SHA256(b.baseAddress, b.count, o.baseAddress)
            }
        }
        return out
    }

    public static func sha256Hex(_ data: some Collection<UInt8>) -> String { Hex.encode(sha256(data)) }

    public static func sha256Hex(_ text: String) -> String { sha256Hex(Array(text.utf8)) }

    /// HMAC-SHA256 of `data` with `key`.
    public static func hmacSHA256(key: some Collection<UInt8>, data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let k = Array(key)
        let d = Array(data)
        k.withUnsafeBufferPointer { kb in
            d.withUnsafeBufferPointer { db in
                out.withUnsafeMutableBufferPointer { ob in
                    _ = HMAC(EVP_sha256(), kb.baseAddress, Int32(kb.count), db.baseAddress, db.count, ob.baseAddress, &length)
                }
            }
        }
        return Array(out.prefix(Int(length)))
    }

    public static func hmacSHA256(key: some Collection<UInt8>, _ text: String) -> [UInt8] {
        hmacSHA256(key: key, data: Array(text.utf8))
    }

    /// Compares two byte strings in time independent of where they differ.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { ab in b.withUnsafeBytes { bb in CRYPTO_memcmp(ab.baseAddress, bb.baseAddress, a.count) == 0 } }
    }

    public struct KeyError: Error, CustomStringConvertible {
        public var description: String
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT "RS256") using a PEM private key (PKCS#8 or PKCS#1).
    public static func rs256Sign(pemPrivateKey: String, data: some Collection<UInt8>) throws(KeyError) -> [UInt8] {
        let pem = Array(pemPrivateKey.utf8)
        guard let bio = pem.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw KeyError(description: "cannot read the private key")
        }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
            throw KeyError(description: "the private key is not a PEM RSA key: \(lastError())")
        }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { throw KeyError(description: "out of memory") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1 else {
            throw KeyError(description: "cannot sign with this key: \(lastError())")
        }
        let message = Array(data)
        var length = 0
        guard message.withUnsafeBufferPointer({ EVP_DigestSign(context, nil, &length, $0.baseAddress, $0.count) }) == 1 else {
            throw KeyError(description: "signing failed: \(lastError())")
        }
        var signature = [UInt8](repeating: 0, count: length)
        let status = message.withUnsafeBufferPointer { m in
            signature.withUnsafeMutableBufferPointer { s in EVP_DigestSign(context, s.baseAddress, &length, m.baseAddress, m.count) }
        }
        guard status == 1 else { throw KeyError(description: "signing failed: \(lastError())") }
        return Array(signature.prefix(length))
    }

    /// Verifies an RS256 signature with a PEM public key (SubjectPublicKeyInfo) or certificate.
    public static func rs256Verify(pemPublicKey: String, data: some Collection<UInt8>, signature: [UInt8]) -> Bool {
        let pem = Array(pemPublicKey.utf8)
        guard let bio = pem.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else { return false }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) else { return false }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key) == 1 else { return false }
        let message = Array(data)
        return message.withUnsafeBufferPointer { m in
            signature.withUnsafeBufferPointer { s in
                EVP_DigestVerify(context, s.baseAddress, s.count, m.baseAddress, m.count) == 1
            }
        }
    }

    static func lastError() -> String {
        let code = ERR_get_error()
        if code == 0 { return "unknown OpenSSL error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
