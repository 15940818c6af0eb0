import Benchmark
import NIOCore
import SwitchboardCore
import SwitchboardRouting

/// A typical small chat request with fields the gateway forwards untouched.
let chatBody = ByteBuffer(string: #"{"model":"chat","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark in one short sentence."}],"max_tokens":16,"temperature":0.2,"user":"u-42","stream":false}"#)
let streamBody = ByteBuffer(string: #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"Say hello to the benchmark in one short sentence."}]}"#)
let reply = ByteBuffer(string: #"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello, benchmark!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":5,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}"#)

/// A 20-token stream as an upstream sends it, one event per chunk, with the usage chunk and [DONE].
let streamChunks: [ByteBuffer] = {
    var chunks = (0..<20).map { i in
        ByteBuffer(string: #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" tok\#(i)"},"finish_reason":null}],"usage":null}"# + "\n\n")
    }
    chunks.append(ByteBuffer(string: #"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}}"# + "\n\n"))
    chunks.append(ByteBuffer(string: "data: [DONE]\n\n"))
    return chunks
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.instructions, .mallocCountTotal, .wallClock], maxDuration: .seconds(2))

    // Decode → route → encode: peek the request, plan its route (p2c-ewma over two deployments, health, caps),
    // rewrite the model, read usage from the reply, end the attempt.
    let config = try! ConfigLoader.load(yaml: """
        providers: [ { name: a, kind: mock }, { name: b, kind: mock } ]
        models: [ { name: chat, deployments: [ { provider: a, model: gpt-4o-mini }, { provider: b, model: llama3 } ] } ]
        """, environment: [:])
    let start = ContinuousClock.now
    let table = RoutingTable(config: config, seed: 1, now: {
        let (s, a) = (ContinuousClock.now - start).components
        return Double(s) * 1000 + Double(a) / 1e15
    })
    Benchmark("request peek + route + rewrite + usage") { benchmark in
        for _ in benchmark.scaledIterations {
            let request = try OpenAIRequest.chat(chatBody)
            var plan = table.plan(model: request.model, needs: request.needs, affinityKey: request.user)!
            guard case .attempt(let lease) = plan.next() else { fatalError("no attempt") }
            blackHole(request.upstreamBody(model: lease.deployment == 0 ? "gpt-4o-mini" : "llama3"))
            let usage = Usage.inOpenAIResponse(reply)!
            lease.firstByte(ttftMs: 1)
            lease.finished(latencyMs: 1, tokens: usage.totalTokens)
            blackHole(Price(input: 0.15, output: 0.6).cost(of: usage))
        }
    }

    Benchmark("stream request peek + include_usage injection") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try OpenAIRequest.chat(streamBody).upstreamBody(model: "gpt-4o-mini"))
        }
    }

    // The SSE relay over a whole 20-token stream, removing the usage chunk the client did not ask for.
    Benchmark("SSE relay, 20-token stream, strip usage") { benchmark in
        for _ in benchmark.scaledIterations {
            var relay = SSERelay(mode: .stripUsageChunk)
            for chunk in streamChunks { blackHole(relay.feed(chunk)) }
            blackHole(relay.finish())
            blackHole(relay.usage)
        }
    }

    Benchmark("SSE relay, 20-token stream, passthrough") { benchmark in
        for _ in benchmark.scaledIterations {
            var relay = SSERelay(mode: .passthrough)
            for chunk in streamChunks { blackHole(relay.feed(chunk)) }
            blackHole(relay.usage)
        }
    }
}
