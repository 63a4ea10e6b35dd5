import Foundation
import HTTPTypes
import Hummingbird

/// Refuses writes that a page on another origin could forge (cross-site request forgery).
///
/// With tokens configured, every write carries `Authorization: Bearer …`, which a page on another origin can
/// neither read nor add without a CORS preflight (Herald answers none). With no tokens (loopback only), a write
/// must show that it was not sent by a plain HTML form or a "simple" cross-origin `fetch`: it needs
/// `Content-Type: application/json` or an `X-Herald-Client` header, which such requests cannot carry. `herald`'s own
/// clients, the console and `curl -H 'Content-Type: application/json'` do.
struct CrossOriginWriteCheck: Sendable {
    /// The header a client without a JSON body (`POST …/_pause`) sends instead, with any value.
    static let clientHeader = HTTPField.Name("X-Herald-Client")!

    static func check(_ request: Request, tokensConfigured: Bool) throws {
        if tokensConfigured { return }
        switch request.method {
        case .get, .head, .options: return
        default: break
        }
        if request.headers[clientHeader] != nil { return }
        if let type = request.headers[.contentType],
            type.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
        {
            return
        }
        throw APIError(
            .forbidden, "CROSS_ORIGIN_WRITE",
            "a write without a token needs 'Content-Type: application/json' or an 'X-Herald-Client' header "
                + "(so that a page on another site cannot send it through your browser); with curl add "
                + "-H 'Content-Type: application/json'")
    }
}
