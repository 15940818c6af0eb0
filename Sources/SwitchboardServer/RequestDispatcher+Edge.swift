import Hummingbird
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// The HTTP/1 rules Hummingbird leaves to the application, applied to each request's parts as they arrive (before a
/// pipelined request waits for the answer before it), where the request's version and keep-alive are still known:
/// - HTTP/1.0 and `Connection: close` requests: the answer says `connection: close` and the connection is closed
///   once it is written (`+Answer`).
/// - `CONNECT` (which the HTTP parser treats as a tunnel, after which it reads nothing more): 405 and close.
/// - A request body must arrive within `server.request_timeout_s` of the request's head, and with
///   `waf.client_timeout_s` the whole request (head and body) within that of its first byte (`RequestBytesWatch`
///   reports the bytes): 408 `request_timeout` (in Anthropic's shape on `/v1/messages`), counted, and close.
/// - The client's going away (closed input or connection) is reported to its `ClientConnection`.
extension RequestDispatcher {
    /// Notes a request's part as it arrives; false when the connection answered it itself (it is then dropped).
    func arrived(_ part: HTTPServerRequestPart, _ context: ChannelHandlerContext) -> Bool {
        switch part {
        case .head(let head):
            if head.method == .CONNECT {
                // NIO's encoder sends no body (nor length) in an answer to CONNECT: the close ends it.
                refuse(context, status: .methodNotAllowed, nil)
                return false
            }
            answers.append((!head.isKeepAlive || head.headers.contains(name: "upgrade"), head.version.major == 1 && head.version.minor == 0))
            if betweenRequests { requestStarted(context) }   // its bytes came with the previous request's
            receivingSince = context.eventLoop.now
            uri = head.uri
            armTimer(context)
        case .end:
            (receivingSince, startedAt, betweenRequests, uri) = (nil, nil, true, nil)
        case .body:
            break
        }
        return true
    }

    /// The first byte of a request arrived: with `clientTimeout`, the whole request is due by then + that.
    func requestStarted(_ context: ChannelHandlerContext) {
        betweenRequests = false
        guard clientTimeout != nil else { return }
        startedAt = context.eventLoop.now
        armTimer(context)
    }

    /// When the request being received is due: its body `requestTimeout` after its head, all of it `clientTimeout`
    /// after its first byte, whichever comes first (nil between requests).
    private var deadline: NIODeadline? {
        let body = receivingSince.map { $0 + requestTimeout }
        let whole = clientTimeout.flatMap { t in startedAt.map { $0 + t } }
        guard let body, let whole else { return body ?? whole }
        return min(body, whole)
    }

    /// Makes sure the timer fires by the current request's deadline. At the deadline, a request still being received
    /// gets 408; otherwise the timer waits for the next deadline (it is re-armed only while a request is being
    /// received).
    private func armTimer(_ context: ChannelHandlerContext) {
        guard let due = deadline, timerDeadline.map({ due < $0 }) ?? true, self.context != nil else { return }
        bodyTimer?.cancel()
        timerDeadline = due
        // Holds the dispatcher until it fires or is cancelled (as the idle timer does).
        bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) {
            (self.bodyTimer, self.timerDeadline) = (nil, nil)
            guard !self.tookOver, let due = self.deadline else { return }
            guard context.eventLoop.now >= due else { return self.armTimer(context) }
            let error = GatewayError(.requestTimeout, self.receivingSince == nil ? "The request did not arrive in time."
                                                                                 : "The request body did not arrive in time.")
            self.refused?(error.code.name)
            let path = self.uri.map { String($0.prefix { $0 != "?" }.prefix(256)) }
            self.logger.notice("Refused at the edge", metadata: [
                "reason": "\(error.code.name)", "client.address": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")", "path": "\(path ?? "-")"])
            // Errors on the Anthropic routes come in Anthropic's shape (a head not yet whole has no route: OpenAI's).
            self.refuse(context, status: .requestTimeout, path?.hasPrefix("/v1/messages") == true ? error.anthropicBody : error.openAIBody)
        }
    }

    /// Answers the request itself and closes the connection.
    private func refuse(_ context: ChannelHandlerContext, status: HTTPResponseStatus, _ body: String?) {
        tookOver = true
        closing = true
        bodyTimer?.cancel()
        connection.markGone()
        var headers = HTTPHeaders()
        headers.add(name: "connection", value: "close")
        if status == .methodNotAllowed { headers.add(name: "allow", value: "GET, POST, PUT, DELETE") }
        if let body {
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.utf8.count))
        }
        encode(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)), promise: nil, context)
        if let body { encode(.body(.byteBuffer(ByteBuffer(string: body))), promise: nil, context) }
        encode(.end(nil), promise: nil, context)
        closeWhenWritten(context)
    }
}
