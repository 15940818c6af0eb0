import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SwitchboardCore
import SwitchboardStore
import SwitchboardTesting
import Synchronization
import Testing
@testable import SwitchboardServer

/// The Files and Batch APIs in process: uploads checked line by line, batches run by the gateway's own engine
/// (`BatchRunner.drain` runs what is due, so no test waits on a timer), output and error files, cancel, ownership,
/// priority, rate limits and a restart in the middle.
@Suite struct BatchTests {
    static func line(_ id: String, model: String = "demo", content: String = "Hello") -> String {
        #"{"custom_id":"\#(id)","method":"POST","url":"/v1/chat/completions","body":{"model":"\#(model)","max_tokens":4,"messages":[{"role":"user","content":"\#(content)"}]}}"#
    }

    static func upload(_ h: GatewayHarness, _ jsonl: String, key: String = GatewayHarness.key, purpose: String = "batch") async throws -> TestResponse {
        let boundary = "sb-test-boundary"
        let body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n\(purpose)\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n"
            + jsonl + "\r\n--\(boundary)--\r\n"
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(key)"
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        return try await h.client.execute(uri: "/v1/files", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// Uploads `lines` and creates a batch over them; the batch's id.
    static func submit(_ h: GatewayHarness, _ lines: [String], key: String = GatewayHarness.key, endpoint: String = "/v1/chat/completions") async throws -> String {
        let file = try await upload(h, lines.joined(separator: "\n"), key: key)
        #expect(file.status == .ok, "\(file.text)")
        let fileID = try #require(try file.json()["id"] as? String)
        let created = try await h.post("/v1/batches", #"{"input_file_id":"\#(fileID)","endpoint":"\#(endpoint)","completion_window":"24h","metadata":{"job":"t"}}"#,
                                       key: key)
        #expect(created.status == .ok, "\(created.text)")
        let json = try created.json()
        #expect(json["status"] as? String == "validating" && json["object"] as? String == "batch")
        return try #require(json["id"] as? String)
    }

    static func runner(_ h: GatewayHarness) -> BatchRunner { BatchRunner(services: h.services, logger: Logger(label: "batch-test")) }

    static func batch(_ h: GatewayHarness, _ id: String, key: String = GatewayHarness.key) async throws -> [String: Any] {
        try await h.get("/v1/batches/\(id)", key: key).json()
    }

    /// A file's lines, decoded.
    static func lines(_ h: GatewayHarness, file id: String?, key: String = GatewayHarness.key) async throws -> [[String: Any]] {
        let id = try #require(id)
        let r = try await h.get("/v1/files/\(id)/content", key: key)
        #expect(r.status == .ok)
        return try r.text.split(separator: "\n").map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    static func counts(_ b: [String: Any]) -> [Int] {
        let c = b["request_counts"] as? [String: Any] ?? [:]
        return ["total", "completed", "failed"].map { c[$0] as? Int ?? -1 }
    }

    @Test func theBatchesSectionIsRead() throws {
        #expect(try ConfigLoader.load(yaml: mockYAML, environment: [:]).batches == BatchesConfig())
        let c = try ConfigLoader.load(yaml: mockYAML + "\nbatches: { enabled: false, concurrency: 8, max_file_bytes: 1000, retention_days: 2, lease_s: 30, poll_ms: 50 }", environment: [:])
        #expect(!c.batches.enabled && c.batches.concurrency == 8 && c.batches.maxFileBytes == 1000)
        #expect(c.batches.retentionDays == 2 && c.batches.leaseSeconds == 30 && c.batches.pollMilliseconds == 50)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: mockYAML + "\nbatches: { concurrency: 0 }", environment: [:]) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(yaml: mockYAML + "\nbatches: { concurency: 2 }", environment: [:]) }
    }

    @Test func filesAreUploadedListedReadAndDeletedByTheirOwner() async throws {
        try await withGateway(mockYAML) { h in
            let text = [Self.line("a"), Self.line("b")].joined(separator: "\n")
            let r = try await Self.upload(h, text)
            #expect(r.status == .ok, "\(r.text)")
            let file = try r.json()
            let id = try #require(file["id"] as? String)
            #expect(id.hasPrefix("file-") && file["object"] as? String == "file" && file["purpose"] as? String == "batch")
            #expect(file["bytes"] as? Int == text.utf8.count && file["filename"] as? String == "in.jsonl" && file["status"] as? String == "processed")
            #expect(try await h.get("/v1/files/\(id)/content").text == text)
            let list = try await h.get("/v1/files").json()
            #expect((list["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [id] && list["has_more"] as? Bool == false)
            // Another key: not there; the master key: there.
            #expect(try await h.get("/v1/files/\(id)", key: "sk-limited").status == .notFound)
            #expect(try await h.get("/v1/files/\(id)/content", key: "sk-limited").status == .notFound)
            #expect(try await h.send(.delete, "/v1/files/\(id)", key: "sk-limited").status == .notFound)
            #expect((try await h.get("/v1/files", key: "sk-limited").json()["data"] as? [Any])?.isEmpty == true)
            #expect(try await h.get("/v1/files/\(id)", key: "sk-master").status == .ok)
            let deleted = try await h.send(.delete, "/v1/files/\(id)").json()
            #expect(deleted["deleted"] as? Bool == true && deleted["id"] as? String == id)
            #expect(try await h.get("/v1/files/\(id)").status == .notFound)
        }
    }

    /// Each bad input: the 400 names the line and the field, in OpenAI's error shape.
    @Test(arguments: [
        ("{nope", 1, "line"),
        (#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"demo"}}"# + "\n[1]", 2, "line"),
        (#"{"method":"POST","url":"/v1/chat/completions","body":{"model":"demo"}}"#, 1, "custom_id"),
        (line("a") + "\n\n" + line("a"), 3, "custom_id"),
        (#"{"custom_id":"a","method":"GET","url":"/v1/chat/completions","body":{"model":"demo"}}"#, 1, "method"),
        (#"{"custom_id":"a","method":"POST","url":"/v1/completions","body":{"model":"demo"}}"#, 1, "url"),
        (#"{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":"text"}"#, 1, "body"),
        (#"{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"input":"x"}}"#, 1, "body.model"),
        (line("a") + "\n" + #"{"custom_id":"b","method":"POST","url":"/v1/chat/completions","body":{"model":"demo","stream":true}}"#, 2, "body.stream"),
    ])
    func badLinesAreRefusedWithTheirLineNumber(_ jsonl: String, _ number: Int, _ field: String) async throws {
        try await withGateway(mockYAML) { h in
            let r = try await Self.upload(h, jsonl)
            #expect(r.status == .badRequest)
            let error = try #require(r.errorObject)
            #expect(error["param"] as? String == field && error["type"] as? String == "invalid_request_error", "\(r.text)")
            #expect((error["message"] as? String)?.hasPrefix("Line \(number) of the file:") == true, "\(r.text)")
            #expect((try await h.get("/v1/files").json()["data"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func badRequestsAroundFilesAndBatchesAre400s() async throws {
        try await withGateway(mockYAML) { h in
            #expect(try await Self.upload(h, Self.line("a"), purpose: "fine-tune").errorObject?["param"] as? String == "purpose")
            #expect(try await h.post("/v1/files", "{}").errorObject?["param"] as? String == "file")
            #expect(try await Self.upload(h, "\n\n").status == .badRequest)
            let fileID = try #require(try await Self.upload(h, Self.line("a")).json()["id"] as? String)
            for (body, param) in [
                (#"{"endpoint":"/v1/chat/completions","completion_window":"24h"}"#, "input_file_id"),
                (#"{"input_file_id":"\#(fileID)","endpoint":"/v1/x","completion_window":"24h"}"#, "endpoint"),
                (#"{"input_file_id":"\#(fileID)","endpoint":"/v1/chat/completions","completion_window":"1h"}"#, "completion_window"),
                (#"{"input_file_id":"\#(fileID)","endpoint":"/v1/chat/completions","completion_window":"24h","metadata":[1]}"#, "metadata"),
                (#"{"input_file_id":"\#(fileID)","endpoint":"/v1/embeddings","completion_window":"24h"}"#, "url"),
            ] {
                let r = try await h.post("/v1/batches", body)
                #expect(r.status == .badRequest && r.errorObject?["param"] as? String == param, "\(r.text)")
            }
            #expect(try await h.post("/v1/batches", "{oops").status == .badRequest)
            let other = try await h.post("/v1/batches", #"{"input_file_id":"\#(fileID)","endpoint":"/v1/chat/completions","completion_window":"24h"}"#, key: "sk-limited")
            #expect(other.status == .notFound && other.errorObject?["param"] as? String == "input_file_id")
            #expect(try await h.get("/v1/batches?limit=0").status == .badRequest)
        }
    }

    @Test func aBatchRunsToCompletionWithOutputAndErrorFiles() async throws {
        let wall = WallClock()
        try await withGateway(mockYAML, wall: wall) { h in
            let id = try await Self.submit(h, [Self.line("one"), Self.line("two"), Self.line("bad", model: "no-such-model"), Self.line("three")])
            try await Self.runner(h).drain()
            let b = try await Self.batch(h, id)
            #expect(b["status"] as? String == "completed" && Self.counts(b) == [4, 3, 1], "\(b)")
            for stamp in ["in_progress_at", "finalizing_at", "completed_at"] { #expect(b[stamp] is Int) }
            #expect((b["metadata"] as? [String: Any])?["job"] as? String == "t")
            let output = try await Self.lines(h, file: b["output_file_id"] as? String)
            #expect(output.map { $0["custom_id"] as? String } == ["one", "two", "three"])
            for line in output {
                let response = try #require(line["response"] as? [String: Any])
                #expect(response["status_code"] as? Int == 200 && (response["request_id"] as? String)?.hasPrefix("req_") == true)
                #expect((response["body"] as? [String: Any])?["object"] as? String == "chat.completion")
                #expect((line["id"] as? String)?.hasPrefix("batch_req_") == true && line["error"] is NSNull)
            }
            let errors = try await Self.lines(h, file: b["error_file_id"] as? String)
            #expect(errors.map { $0["custom_id"] as? String } == ["bad"])
            let failed = try #require(errors.first?["response"] as? [String: Any])
            #expect(failed["status_code"] as? Int == 404)
            #expect(((failed["body"] as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "model_not_found")
            // Listed, newest first, with paging.
            wall.advance(1)
            let second = try await Self.submit(h, [Self.line("x")])
            let page = try await h.get("/v1/batches?limit=1").json()
            #expect((page["data"] as? [[String: Any]])?.first?["id"] as? String == second && page["has_more"] as? Bool == true)
            let next = try await h.get("/v1/batches?limit=1&after=\(second)").json()
            #expect((next["data"] as? [[String: Any]])?.first?["id"] as? String == id && next["has_more"] as? Bool == false)
        }
    }

    @Test func anEmbeddingsBatchRuns() async throws {
        try await withGateway(mockYAML) { h in
            let lines = (0..<3).map { #"{"custom_id":"e\#($0)","method":"POST","url":"/v1/embeddings","body":{"model":"demo","input":"text \#($0)"}}"# }
            let id = try await Self.submit(h, lines, endpoint: "/v1/embeddings")
            try await Self.runner(h).drain()
            let b = try await Self.batch(h, id)
            #expect(b["status"] as? String == "completed" && Self.counts(b) == [3, 3, 0])
            let output = try await Self.lines(h, file: b["output_file_id"] as? String)
            #expect(output.compactMap { (($0["response"] as? [String: Any])?["body"] as? [String: Any])?["object"] as? String } == ["list", "list", "list"])
        }
    }

    @Test func aResponsesBatchRuns() async throws {
        try await withGateway(mockYAML) { h in
            let lines = (0..<2).map { #"{"custom_id":"r\#($0)","method":"POST","url":"/v1/responses","body":{"model":"demo","input":"Say \#($0)","max_output_tokens":8}}"# }
            let id = try await Self.submit(h, lines, endpoint: "/v1/responses")
            try await Self.runner(h).drain()
            let b = try await Self.batch(h, id)
            #expect(b["status"] as? String == "completed" && Self.counts(b) == [2, 2, 0], "\(b)")
            let output = try await Self.lines(h, file: b["output_file_id"] as? String)
            #expect(output.compactMap { (($0["response"] as? [String: Any])?["body"] as? [String: Any])?["object"] as? String } == ["response", "response"])
        }
    }

    @Test func cancelStopsTakingLinesAndKeepsWhatRan() async throws {
        try await withGateway(mockYAML) { h in
            let id = try await Self.submit(h, (0..<5).map { Self.line("c\($0)") })
            let runner = Self.runner(h)
            try await runner.upkeep()
            let held = try await runner.claim(2)
            #expect(held.count == 2)
            let cancelled = try await h.post("/v1/batches/\(id)/cancel", "")
            #expect(try cancelled.json()["status"] as? String == "cancelling")
            // In flight when cancelled: finished and kept; no new line taken.
            try await runner.upkeep()
            #expect(try await Self.batch(h, id)["status"] as? String == "cancelling")
            for line in held { await runner.serve(line) }
            try await runner.drain()
            let b = try await Self.batch(h, id)
            #expect(b["status"] as? String == "cancelled" && Self.counts(b) == [5, 2, 0] && b["cancelled_at"] is Int)
            #expect(try await Self.lines(h, file: b["output_file_id"] as? String).map { $0["custom_id"] as? String } == ["c0", "c1"])
            let notRun = try await Self.lines(h, file: b["error_file_id"] as? String)
            #expect(notRun.map { $0["custom_id"] as? String } == ["c2", "c3", "c4"])
            #expect(notRun.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? String == "batch_cancelled" })
            // A finished batch cannot be cancelled.
            #expect(try await h.post("/v1/batches/\(id)/cancel", "").status == .ok)
            let done = try await Self.submit(h, [Self.line("z")])
            try await runner.drain()
            #expect(try await h.post("/v1/batches/\(done)/cancel", "").status == .conflict)
        }
    }

    @Test func aKeySeesOnlyItsOwnBatches() async throws {
        try await withGateway(mockYAML) { h in
            let id = try await Self.submit(h, [Self.line("mine")])
            #expect(try await h.get("/v1/batches/\(id)", key: "sk-limited").status == .notFound)
            #expect(try await h.post("/v1/batches/\(id)/cancel", "", key: "sk-limited").status == .notFound)
            #expect((try await h.get("/v1/batches", key: "sk-limited").json()["data"] as? [Any])?.isEmpty == true)
            #expect(try await h.get("/v1/batches/\(id)", key: "sk-master").status == .ok)
            #expect((try await h.get("/v1/batches", key: "sk-master").json()["data"] as? [Any])?.count == 1)
            try await Self.runner(h).drain()
            let output = try #require(try await Self.batch(h, id)["output_file_id"] as? String)
            #expect(try await h.get("/v1/files/\(output)/content", key: "sk-limited").status == .notFound)
        }
    }

    /// A key held to 2 requests a minute: two lines run, the other two wait (not failed) and run a minute later.
    /// A budget refusal fails its line.
    @Test func rateLimitedLinesAreRetriedAndBudgetRefusalsFail() async throws {
        let wall = WallClock()
        try await withGateway(mockYAML, wall: wall) { h in
            let (_, key) = try await KeysAppTests.createKey(h, #"{"name":"slow","limits":{"rpm":2}}"#)
            let id = try await Self.submit(h, (0..<4).map { Self.line("r\($0)", model: "demo-small") }, key: key)
            let runner = Self.runner(h)
            try await runner.drain()
            var b = try await Self.batch(h, id, key: key)
            #expect(b["status"] as? String == "in_progress" && Self.counts(b) == [4, 2, 0], "\(b)")
            wall.advance(61)
            try await runner.drain()
            b = try await Self.batch(h, id, key: key)
            #expect(b["status"] as? String == "completed" && Self.counts(b) == [4, 4, 0], "\(b)")

            // sim-a costs 0.1 USD per prompt token: once it has answered, a 0.01 USD budget is spent.
            let (_, poor) = try await KeysAppTests.createKey(h, #"{"name":"poor","limits":{"budgets":[{"period":"day","usd":0.01}]}}"#)
            for _ in 0..<2 { _ = try await h.post("/v1/chat/completions", chatBody, key: poor) }
            let spent = try await Self.submit(h, [Self.line("p0")], key: poor)
            try await runner.drain()
            b = try await Self.batch(h, spent, key: poor)
            #expect(b["status"] as? String == "completed" && Self.counts(b) == [1, 0, 1], "\(b)")
            let error = try await Self.lines(h, file: b["error_file_id"] as? String, key: poor)
            #expect(error.first?["response"].flatMap { $0 as? [String: Any] }?["status_code"] as? Int == 429)
        }
    }

    /// Past its 24 h window a batch stops taking lines and ends `expired`, with what ran and the rest as `batch_expired`.
    @Test func aBatchPastItsWindowExpiresWithPartialOutput() async throws {
        let wall = WallClock()
        try await withGateway(mockYAML, wall: wall) { h in
            let id = try await Self.submit(h, (0..<3).map { Self.line("x\($0)") })
            let runner = Self.runner(h)
            try await runner.upkeep()
            for line in try await runner.claim(1) { await runner.serve(line) }
            wall.advance(86_401)
            try await runner.drain()
            let b = try await Self.batch(h, id)
            #expect(b["status"] as? String == "expired" && Self.counts(b) == [3, 1, 0] && b["expired_at"] is Int, "\(b)")
            #expect(try await Self.lines(h, file: b["output_file_id"] as? String).map { $0["custom_id"] as? String } == ["x0"])
            let notRun = try await Self.lines(h, file: b["error_file_id"] as? String)
            #expect(notRun.map { ($0["error"] as? [String: Any])?["code"] as? String } == ["batch_expired", "batch_expired"])
        }
    }

    /// A revoked key's batch fails its remaining lines.
    @Test func aRevokedKeysLinesFail() async throws {
        try await withGateway(mockYAML) { h in
            let (keyID, key) = try await KeysAppTests.createKey(h, #"{"name":"gone"}"#)
            let id = try await Self.submit(h, [Self.line("g0"), Self.line("g1")], key: key)
            #expect(try await h.post("/admin/keys/\(keyID)/revoke", "", key: "sk-master").status.code < 300)
            try await Self.runner(h).drain()
            let b = try await Self.batch(h, id, key: "sk-master")
            #expect(b["status"] as? String == "completed" && Self.counts(b) == [2, 0, 2], "\(b)")
        }
    }
}
