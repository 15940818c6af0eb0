import Benchmark
import Foundation
import NIOCore
import SwitchboardCore
import SwitchboardProviders

/// A Responses API request as the OpenAI SDK sends it: instructions, two turns and a function tool.
let requestBody = ByteBuffer(string: """
    {"model":"demo","instructions":"You are a concise assistant for a travel agency.","input":[\
    {"role":"user","content":[{"type":"input_text","text":"Plan a two-day trip to Lisbon for a family of four on a budget."}]},\
    {"role":"assistant","content":[{"type":"output_text","text":"Sure. Do you prefer museums or the coast?"}]},\
    {"role":"user","content":"The coast, and please keep walking short."}],\
    "tools":[{"type":"function","name":"search_hotels","description":"Find hotels","parameters":{"type":"object",\
    "properties":{"city":{"type":"string"},"max_price":{"type":"number"}},"required":["city"]}}],\
    "temperature":0.3,"max_output_tokens":800,"store":true}
    """)

/// A chat completion with a 1 KB answer, as an upstream that speaks only chat completions sends it.
let answer1KB: ByteBuffer = {
    var text = ""
    let sentence = "Day one: take the train to Cascais, swim at Praia da Conceição and have grilled fish by the harbour. "
    while text.utf8.count < 1000 { text += sentence }
    return ByteBuffer(string: #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"# +
        #""message":{"role":"assistant","content":\#(JSONString.quote(text))},"finish_reason":"stop"}],"# +
        #""usage":{"prompt_tokens":180,"completion_tokens":230,"total_tokens":410,"prompt_tokens_details":{"cached_tokens":0}}}"#)
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(2))

    // What the gateway adds to a Responses API request served by a chat-completions upstream, beyond what a chat
    // completion costs: the request read and translated to a chat body, the whole answer translated back.
    Benchmark("responses -> chat -> responses, non-streamed 1 KB answer") { benchmark in
        for _ in benchmark.scaledIterations {
            guard let request = try? ResponsesRequest.parse(requestBody),
                  let json = requestBody.withUnsafeReadableBytes({ JSONValue.parse($0) }),
                  let chat = try? ResponsesToChat.request(json) else { fatalError("the benchmark's request does not translate") }
            blackHole(OpenAIRequest.translated(chat, upstreamModel: "up", stream: false, needs: request.needs).body)
            guard let completion = answer1KB.withUnsafeReadableBytes({ JSONValue.parse($0) }) else { fatalError("bad answer") }
            let usage = Usage.inOpenAIResponse(answer1KB) ?? Usage()
            blackHole(ByteBuffer(string: ChatToResponses.response(completion, usage: usage, request: json, id: "resp_1", model: "demo",
                                                                  createdAt: 1).jsonText))
        }
    }
}
