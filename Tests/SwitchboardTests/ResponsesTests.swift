import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import Testing

/// `/v1/responses`: the request read, usage and endings in streams, and the endpoint in process (translated through
/// the simulated providers, stored, continued, read back and deleted).
@Suite struct ResponsesTests {
    // MARK: reading the request

    @Test func readsWhatTheGatewayNeeds() throws {
        let r = try ResponsesRequest.parse(ByteBuffer(string: """
            {"model":"demo","input":[{"role":"user","content":[{"type":"input_text","text":"Hi"},{"type":"input_image","image_url":"data:x"}]}],
             "tools":[{"type":"function","name":"f"}],"text":{"format":{"type":"json_schema","name":"s","schema":{}}},"max_output_tokens":50,
             "stream":true,"store":false,"user":"u1","previous_response_id":"resp_1"}
            """))
        #expect(r.model == "demo" && r.stream && !r.store && r.previousResponseID == "resp_1" && r.user == "u1")
        #expect(r.needs.tools && r.needs.vision && r.needs.jsonMode && r.needs.maxOutputTokens == 50 && r.needs.streaming)
        let s = try ResponsesRequest.parse(ByteBuffer(string: #"{"model":"demo","input":"Hello"}"#))
        #expect(s.store && !s.stream && s.turnInput == [ResponsesRequest.userMessage("Hello")])
    }

    @Test(arguments: [
        (#"{"input":"x"}"#, "model"), (#"{"model":"demo"}"#, "input"), (#"{"model":"demo","input":7}"#, "input"),
        (#"{"model":"demo","input":[]}"#, "input"), (#"{"model":"demo","input":["x"]}"#, "input[0]"),
        (#"{"model":"demo","input":"x","stream":"yes"}"#, "stream"), (#"{"model":"demo","input":"x","max_output_tokens":0}"#, "max_output_tokens"),
        (#"{"model":"demo","input":"x","background":true}"#, "background"), (#"{"model":"demo","input":"x","conversation":"c"}"#, "conversation"),
        (#"{"model":"demo","input":"x","previous_response_id":""}"#, "previous_response_id"), (#"{"model":"demo","input":"x","tools":{}}"#, "tools"),
        (#"{"model":"demo","input":"x","instructions":5}"#, "instructions"),
    ])
    func malformedRequestsNameTheField(_ body: String, _ param: String) {
        #expect {
            try ResponsesRequest.parse(ByteBuffer(string: body))
        } throws: { error in
            (error as? GatewayError)?.param == param && (error as? GatewayError)?.status == 400
        }
    }

    @Test func historyGoesInFrontAndPreviousIDStaysOffNativeUpstreams() throws {
        let r = try ResponsesRequest.parse(ByteBuffer(string: #"{"model":"demo","input":"Next","previous_response_id":"resp_1"}"#))
        #expect(String(buffer: r.upstreamBody(model: "up")) == #"{"model":"up","input":"Next","previous_response_id":"resp_1"}"#)
        let expanded = try r.withHistory([ResponsesRequest.userMessage("First"), ["type": "message", "role": "assistant", "content": "Hi"]])
        #expect(expanded.turnInput == [ResponsesRequest.userMessage("Next")])
        let sent = try #require(JSONValue.parse(Data(buffer: expanded.upstreamBody(model: "up"))))
        #expect(sent["previous_response_id"] == nil && sent["model"] == "up")
        #expect(sent["input"]?.array?.count == 3)
    }

    // MARK: streams

    @Test func relayFindsUsageAndTheEndInResponsesEvents() {
        var relay = SSERelay(mode: .stripUsageChunk, format: .responses)
        let events = """
            event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"r","usage":null}}\n\n\
            event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1,"delta":"Hi"}\n\n\
            event: response.completed\ndata: {"type":"response.completed","sequence_number":2,"response":{"id":"r","usage":\
            {"input_tokens":10,"input_tokens_details":{"cached_tokens":3},"output_tokens":4,"output_tokens_details":{"reasoning_tokens":1}}}}\n\n
            """
        var out = ""
        for byte in events.utf8 {     // cut at every byte: nothing is held back, nothing is lost
            if let b = relay.feed(ByteBuffer(bytes: [byte])) { out += String(buffer: b) }
        }
        #expect(out == events)
        #expect(relay.sawDone && !relay.sawError)
        #expect(relay.usage == Usage(promptTokens: 10, completionTokens: 4, cachedTokens: 3, reasoningTokens: 1))
        var failed = SSERelay(mode: .passthrough, format: .responses)
        _ = failed.feed(ByteBuffer(string: "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{}}}\n\n"))
        #expect(failed.sawError && !failed.sawDone)
    }

    // MARK: the endpoint, in process

    static let yaml = """
        auth:
          keys:
            - { name: one, key: "\(GatewayHarness.key)" }
            - { name: two, key: "sk-two" }
        providers:
          - { name: sim, kind: mock, reply: echo }
          - { name: sim-claude, kind: mock, api: anthropic, reply: echo }
        models:
          - { name: demo, deployments: [ { provider: sim, model: m-1 } ] }
          - { name: claude, deployments: [ { provider: sim-claude, model: c-1 } ] }
        """

    @Test func createStoreContinueReadAndDelete() async throws {
        try await withGateway(Self.yaml) { h in
            let first = try await h.post("/v1/responses", #"{"model":"claude","input":"My name is Ada.","instructions":"Be brief."}"#)
            #expect(first.status == .ok)
            let one = try first.json()
            let id = try #require(one["id"] as? String)
            #expect(id.hasPrefix("resp_") && one["object"] as? String == "response" && one["status"] as? String == "completed")
            #expect(one["instructions"] as? String == "Be brief.")
            #expect(first.header("x-switchboard-provider") == "sim-claude")

            // Turn 2 on another provider: the echo of the last user message, with turn 1 in the conversation sent.
            let second = try await h.post("/v1/responses", #"{"model":"demo","input":"What is my name?","previous_response_id":"\#(id)"}"#)
            #expect(second.status == .ok)
            let two = try second.json()
            #expect(two["previous_response_id"] as? String == id)
            let text = ((two["output"] as? [[String: Any]])?.first?["content"] as? [[String: Any]])?.first?["text"] as? String
            #expect(text?.contains("What is my name?") == true)
            await h.services.requestLog.flush()
            let logged = try #require(try await h.storage.request(id: second.header("x-request-id") ?? ""))
            #expect(logged.endpoint == "responses" && logged.usage.promptTokens > 0)

            let got = try await h.get("/v1/responses/\(id)")
            let gotID = try got.json()["id"] as? String
            #expect(got.status == .ok && gotID == id)
            let items = try await h.get("/v1/responses/\(id)/input_items?order=asc")
            let data = try #require(try items.json()["data"] as? [[String: Any]])
            #expect(data.count == 1 && data[0]["role"] as? String == "user" && (data[0]["id"] as? String)?.isEmpty == false)
            #expect(try await h.get("/v1/responses/\(id)/input_items?limit=0").status == .badRequest)

            // Another key sees nothing, neither to read, delete nor continue.
            #expect(try await h.get("/v1/responses/\(id)", key: "sk-two").status == .notFound)
            #expect(try await h.send(.delete, "/v1/responses/\(id)", key: "sk-two").status == .notFound)
            let stolen = try await h.post("/v1/responses", #"{"model":"demo","input":"x","previous_response_id":"\#(id)"}"#, key: "sk-two")
            #expect(stolen.status == .badRequest && stolen.errorObject?["code"] as? String == "previous_response_not_found")

            let deleted = try await h.send(.delete, "/v1/responses/\(id)")
            let wasDeleted = try deleted.json()["deleted"] as? Bool
            #expect(deleted.status == .ok && wasDeleted == true)
            #expect(try await h.get("/v1/responses/\(id)").status == .notFound)
        }
    }

    @Test func aStreamIsStoredBeforeItsLastEventAndStoreFalseIsNot() async throws {
        try await withGateway(Self.yaml) { h in
            let streamed = try await h.post("/v1/responses", #"{"model":"demo","input":"Stream me.","stream":true}"#)
            #expect(streamed.status == .ok && streamed.header("content-type")?.hasPrefix("text/event-stream") == true)
            let events = streamed.text.components(separatedBy: "\n\n").compactMap { e in
                e.split(separator: "\n").first { $0.hasPrefix("data: ") }.flatMap { JSONValue.parse(Data($0.dropFirst(6).utf8)) }
            }
            #expect(events.first?["type"] == "response.created" && events.last?["type"] == "response.completed")
            let id = try #require(events.last?["response"]?["id"]?.string)
            #expect(try await h.get("/v1/responses/\(id)").status == .ok)

            let unstored = try await h.post("/v1/responses", #"{"model":"demo","input":"Forget me.","store":false}"#)
            let uid = try #require(try unstored.json()["id"] as? String)
            #expect(try await h.get("/v1/responses/\(uid)").status == .notFound)
        }
    }

    @Test func builtInToolsAreRefusedNamingTheTool() async throws {
        try await withGateway(Self.yaml) { h in
            let r = try await h.post("/v1/responses", #"{"model":"demo","input":"Search","tools":[{"type":"web_search"}]}"#)
            #expect(r.status == .badRequest)
            #expect((r.errorObject?["message"] as? String)?.contains("web_search") == true)
        }
    }

    @Test func storedResponsesInMemoryAndSQLite() async throws {
        let sqlite = try await SQLiteStorage.open(path: ":memory:")
        try await sqlite.migrate()
        for storage in [MemoryStorage(), sqlite] as [any Storage] { try await Self.storageContract(storage) }
        try await sqlite.close()
    }

    static func storageContract(_ storage: any Storage) async throws {
        let r = StoredResponse(id: "resp_a", owner: "k1", createdMs: 1000, model: "demo", previousID: nil, input: "[]", response: "{}")
        try await storage.insertResponse(r)
        try await storage.insertResponse(StoredResponse(id: "resp_b", owner: "k1", createdMs: 5000, model: "demo", previousID: "resp_a",
                                                        input: "[]", response: #"{"id":"resp_b"}"#))
        #expect(try await storage.storedResponse(id: "resp_a") == r)
        #expect(try await storage.deleteResponses(beforeMs: 2000) == 1)
        #expect(try await storage.storedResponse(id: "resp_a") == nil)
        let once = try await storage.deleteResponse(id: "resp_b"), twice = try await storage.deleteResponse(id: "resp_b")
        #expect(once && !twice)
    }
}

@Suite(.needsPostgres) struct PostgresResponseStorageTests {
    @Test func storedResponsesInPostgreSQL() async throws {
        let s = try await PostgresStorage.open(url: try await TestPostgres.freshDatabase())
        try await s.migrate()
        try await ResponsesTests.storageContract(s)
        try await s.close()
    }
}
