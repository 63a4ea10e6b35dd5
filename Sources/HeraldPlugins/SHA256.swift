import CHeraldOpenSSL
import Foundation

/// Lower-case hex SHA-256 of `bytes`.
func sha256Hex(of bytes: Data) -> String {
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    bytes.withUnsafeBytes { raw in
        _ = EVP_Digest(raw.baseAddress, raw.count, &digest, &length, EVP_sha256(), nil)
    }
    return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
}
