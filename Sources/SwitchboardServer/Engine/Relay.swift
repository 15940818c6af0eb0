import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting

// Step 7 of the engine — relay: the answer goes to the client through the response stages. A whole answer is sent
// with its cost; a stream's bytes go as they arrive (nothing is buffered beyond an unfinished event), its usage
// picked up on the way, and a failure after the commit point ends it with an error event in the client's API —
// never a silently cut stream. The request is recorded (step 8) when the answer ends.

extension Gateway {
    /// Sends what the attempts came to: a whole answer, or a stream that has begun.
    @inline(never) // its own async frame, not part of the caller's (see Gateway.serve)
    nonisolated(nonsending) func relay<API: ClientAPI>(_ call: Call<API>, _ result: AttemptResult, lease: AttemptLease, _ exchange: inout Exchange) async -> Response {
        exchange.firstByte()
        var filters = stages.filters(call, exchange)
        switch result {
        case .failed(let error, _):
            return exchange.fail(error, api: API.self, recorder)      // not an answer: the attempt loop never hands one over
        case .streaming(let contentType, let first, let rest, let ttft, let span):
            if let span { exchange.spans?.setAttempt(span) }
            lease.firstByte(ttftMs: ttft)
            return stream(API.self, first: first, rest: rest, relay: API.relay(for: call.request), contentType: contentType, exchange: exchange,
                          filters: filters, lease: lease, attemptTTFT: ttft)
        case .complete(var body, let usage, let latency):
            lease.firstByte(ttftMs: latency)
            lease.finished(latencyMs: latency, usage: usage)
            if !filters.isEmpty, case .stop(let error) = await filters.answer(&body, &exchange) {
                return exchange.fail(error, api: API.self, recorder, headers: exchange.headers(modelName: lease.model.name))
            }
            exchange.finish(status: 200, usage: usage)
            var headers = exchange.headers(modelName: lease.model.name)
            headers[.contentType] = "application/json"     // the body was checked to be one JSON object
            headers[.switchboardCost] = formatUSD(exchange.record.costUSD)
            exchange.emit(recorder)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
    }

    /// Relays an SSE stream: bytes go to the client as they arrive, through the response stages; usage is picked up
    /// on the way; a failure after the commit point ends the stream with an error event.
    private func stream<API: ClientAPI>(_ api: API.Type, first: ByteBuffer?, rest: UpstreamStream, relay: SSERelay, contentType: String?,
                                        exchange: Exchange, filters: ResponseFilters, lease: AttemptLease, attemptTTFT: Double) -> Response {
        var headers = exchange.headers(modelName: lease.model.name)
        headers[.contentType] = contentType ?? "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let recorder = self.recorder
        let clock = self.clock
        let totalLimit = lease.model.deployments[lease.deployment].timeouts.totalSeconds
        let streamStart = clock.nowMs()
        let provider = exchange.record.provider ?? ""
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var exchange = exchange
            var relay = relay
            var filters = filters
            var upstreamError: GatewayError?
            /// Sends bytes through the response stages; false when a stage ended the stream.
            func send(_ bytes: ByteBuffer) async throws -> Bool {
                var out = bytes
                if !filters.isEmpty, case .stop(let error) = await filters.chunk(&out, &exchange) {
                    upstreamError = error
                    return false
                }
                try await writer.write(out)
                return true
            }
            do {
                var open = true
                if let first, let out = relay.feed(first) { open = try await send(out) }
                while open {
                    let chunk: ByteBuffer?
                    do {
                        chunk = try await rest.next()
                    } catch {
                        upstreamError = ProviderFailure.transport(HTTPClientTransport.classify(error), provider: provider,
                                                                  seconds: totalLimit ?? self.routing.timeoutSeconds).error
                        break
                    }
                    guard let chunk else { break }
                    if let out = relay.feed(chunk) { open = try await send(out) }
                    if relay.overflowed {
                        upstreamError = .upstreamBadResponse(provider: provider, "an event longer than \(SSERelay.maxEventBytes >> 20) MiB")
                        break
                    }
                    // `total` is also checked here, for transports that cannot enforce it themselves.
                    if let totalLimit, clock.nowMs() - streamStart > totalLimit * 1000 + attemptTTFT {
                        upstreamError = .upstreamTimeout(provider: provider, seconds: totalLimit)
                        break
                    }
                }
                // A stream broken inside an event: the error event must not be glued to its partial line.
                let partial = relay.endsInsideEvent
                if open, let tail = relay.finish() { open = try await send(tail) }
                if open, !filters.isEmpty {
                    let (held, error) = await filters.finish(&exchange)
                    if held.readableBytes > 0 { try await writer.write(held) }
                    if let error { upstreamError = error; open = false }
                }
                if upstreamError == nil, !relay.sawDone, !relay.sawError {
                    upstreamError = .streamInterrupted(provider: provider)
                }
                if let upstreamError {
                    let event = ByteBuffer(string: (partial ? "\n\n" : "") + API.streamErrorEvent(upstreamError))
                    filters.ending(event, &exchange)
                    try await writer.write(event)
                }
            } catch {
                // The client went away: leaving the loop drops the upstream body, which cancels the upstream request.
                let usage = relay.usage.flatMap { $0.isPlausible ? $0 : nil }
                lease.finished(latencyMs: attemptTTFT, usage: usage)
                exchange.finish(status: 499, usage: usage ?? Usage(), errorCode: "client_closed_request")
                exchange.emit(recorder)
                throw error
            }
            // Usage an upstream streams is untrusted like any other: absurd counts are not billed, and the attempt is
            // recorded as the upstream's failure (the client already has the answer; nothing more is sent).
            var usage = relay.usage
            if let u = usage, !u.isPlausible {
                usage = nil
                if upstreamError == nil { upstreamError = .upstreamBadResponse(provider: provider, "its token usage is not plausible") }
            }
            // The stream is in flight until it ends; its latency signal is the time to first byte.
            if upstreamError != nil {
                lease.brokeMidStream(tokens: usage?.totalTokens)
            } else {
                lease.finished(latencyMs: attemptTTFT, usage: usage)
            }
            exchange.finish(status: upstreamError?.status ?? 200, usage: usage ?? Usage(), errorCode: upstreamError?.code.name)
            exchange.emit(recorder)
            try await writer.finish(nil)
        })
    }
}
