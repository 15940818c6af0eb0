import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import SwitchboardCore

/// NIO's HTTP/1 parts to and from HTTP-types parts, as `HTTP1ToHTTPServerCodec` converts them, without its cost for
/// the requests every client sends, and without a handler of its own: `RequestDispatcher` converts what it reads and
/// writes. A target in origin form (`/v1/chat/completions?x=1`, which is what HTTP/1 clients send) is the request's
/// path as it is; the library reads every target with `URLComponents` to find that out (about 1 µs and several
/// allocations a request). Other forms (absolute, authority, asterisk) still go through the library, so they convert
/// exactly as before. Header fields convert as the library converts them (the first `Host` becomes the authority; a
/// name that is not a valid field name is dropped; cookies are not split).
enum ServerCodec {
    /// The request's head in HTTP types; throws (as the library does) for a method HTTP types cannot carry.
    static func request(_ head: HTTPRequestHead) throws -> HTTPRequest {
        guard head.uri.utf8.first == UInt8(ascii: "/") else { return try HTTPRequest(head, secure: false, splitCookie: false) }
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        var authority: String?
        for (name, value) in head.headers {
            if authority == nil, name.equalsASCIICaseInsensitively("host") {
                authority = value
                continue
            }
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return HTTPRequest(method: try HTTPRequest.Method(head.method), scheme: "http", authority: authority, path: head.uri,
                           headerFields: fields)
    }

    /// A response part in NIO's types, as the library's codec writes it.
    static func response(_ part: HTTPResponsePart) -> HTTPServerResponsePart {
        switch part {
        case .head(let response): .head(HTTPResponseHead(response))
        case .body(let body): .body(.byteBuffer(body))
        case .end(let trailers): .end(trailers.map(HTTPHeaders.init))
        }
    }
}
