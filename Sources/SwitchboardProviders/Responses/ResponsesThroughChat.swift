import Foundation
import NIOCore
import NIOFoundationCompat
import SwitchboardCore

extension Provider {
    /// A Responses API request served by a provider that answers chat completions: the request is translated to a
    /// chat completion (`ResponsesToChat`), sent with `send`, and its answer (whole or streamed) translated back into
    /// a response object or the Responses API's typed events. The response's id is the gateway's own.
    public func responsesThroughChat(_ request: ResponsesRequest, upstreamModel: String, context: ProviderCallContext) async -> ProviderOutcome {
        guard let body = JSONValue.parse(Data(buffer: request.body)) else {
            return .failure(.refused(.invalidJSON("the body could not be decoded for translation")))
        }
        let chat: OpenAIRequest
        do {
            chat = OpenAIRequest.translated(try ResponsesToChat.request(body), upstreamModel: upstreamModel, stream: request.stream,
                                            needs: request.needs)
        } catch {
            return .failure(.refused(error))
        }
        let id = ResponseID.make()
        let model = request.model
        let created = Int(Date().timeIntervalSince1970)
        let toResponses = AnswerAdapter(wire: .responses, notAnAnswer: "not a chat completion", stream: { upstream in
            UpstreamBody(iterator: {
                TranslatingIterator(upstream: upstream.makeAsyncIterator(),
                                    translator: ChatToResponsesStream(id: id, model: model, request: body, createdAt: created))
            })
        }, answer: { raw in
            guard let completion = JSONValue.parse(Data(buffer: raw)), completion["choices"]?.array != nil else { return nil }
            let usage = Usage.inOpenAIResponse(raw) ?? Usage()
            return ByteBuffer(string: ChatToResponses.response(completion, usage: usage, request: body, id: id, model: model, createdAt: created).jsonText)
        })
        return await send(chat, upstreamModel: upstreamModel, context: context, adapter: toResponses)
    }
}

/// Ids of the responses the gateway makes itself: `resp_` and 48 random hex digits, as long as OpenAI's.
public enum ResponseID {
    public static func make() -> String {
        var g = SystemRandomNumberGenerator()
        return "resp_" + (0..<3).map { _ in String(format: "%016llx", g.next()) }.joined()
    }
}
