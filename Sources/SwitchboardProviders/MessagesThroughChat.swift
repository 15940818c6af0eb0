import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

extension Provider {
    /// An Anthropic Messages request served by a provider that answers chat completions: the request is translated
    /// to a chat completion, sent with `send`, and its answer (whole or streamed) translated back. Errors need no
    /// translation: they are typed, and the gateway words them in the client's API.
    func messagesThroughChat(_ request: AnthropicMessagesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        // Parsed and translated once, serialised once with the upstream's model: nothing is peeked or rewritten again.
        guard let anthropic = JSONValue.parse(Data(buffer: request.body)) else {
            return .failure(.refused(.invalidJSON("the body could not be decoded for translation")))
        }
        let chat: OpenAIRequest
        do {
            chat = OpenAIRequest.translated(try MessagesToOpenAI.request(anthropic), upstreamModel: upstreamModel, stream: request.stream,
                                            needs: request.needs)
        } catch {
            return .failure(.refused(error))
        }
        let model = request.model
        let toMessages = AnswerAdapter(wire: .anthropic, notAnAnswer: "not a chat completion", stream: { body in
            UpstreamBody(iterator: { TranslatingIterator(upstream: body.makeAsyncIterator(), translator: OpenAIToMessagesStream(model: model)) })
        }, answer: { raw in
            guard let completion = JSONValue.parse(Data(buffer: raw)) else { return nil }
            let usage = Usage.inOpenAIResponse(raw) ?? Usage()
            return ByteBuffer(string: MessagesToOpenAI.response(completion, usage: usage, model: model).jsonText)
        })
        return await send(chat, upstreamModel: upstreamModel, context: context, adapter: toMessages)
    }
}
