import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

extension Provider {
    /// An Anthropic Messages request served by a provider that answers chat completions: the request is translated
    /// to a chat completion, sent with `send`, and the answer (plain, streamed, error) translated back.
    func messagesThroughChat(_ request: AnthropicMessagesRequest, upstreamModel: String, context: ProviderCallContext) async throws(UpstreamError) -> UpstreamResponse {
        let chat: OpenAIRequest
        do {
            guard let anthropic = JSONValue.parse(Data(buffer: request.body)) else {
                throw GatewayError.invalidJSON("the body could not be decoded for translation")
            }
            chat = try OpenAIRequest.chat(ByteBuffer(string: MessagesToOpenAI.request(anthropic).jsonText))
        } catch let error as GatewayError {
            return .anthropicError(error)
        } catch {
            return .anthropicError(.internalError("translation failed"))
        }
        let upstream = try await send(chat, upstreamModel: upstreamModel, context: context)
        if upstream.status >= 400 {
            return await upstream.translatingError { MessagesToOpenAI.error($0, status: upstream.status) }
        }
        let model = request.model
        if request.stream {
            return UpstreamResponse(status: upstream.status, headers: [("content-type", "text/event-stream")], body: UpstreamBody(iterator: {
                TranslatingIterator(upstream: upstream.body.makeAsyncIterator(), translator: OpenAIToMessagesStream(model: model))
            }))
        }
        let raw: ByteBuffer
        do {
            raw = try await upstream.body.collect(upTo: 64 << 20)
        } catch {
            throw HTTPClientTransport.classify(error)
        }
        guard let completion = JSONValue.parse(Data(buffer: raw)) else {
            return .anthropicError(.upstreamBadResponse(provider: name, "not a chat completion"))
        }
        let usage = Usage.inOpenAIResponse(raw) ?? Usage()
        return UpstreamResponse(status: 200, headers: [("content-type", "application/json")],
                                body: UpstreamBody(ByteBuffer(string: MessagesToOpenAI.response(completion, usage: usage, model: model).jsonText)))
    }
}
