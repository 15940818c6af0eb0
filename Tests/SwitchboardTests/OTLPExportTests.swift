import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SwitchboardCore
import SwitchboardProviders
@testable import SwitchboardServer
import Synchronization
import Testing
import Tracing

/// A protobuf message read back field by field (enough of the wire format to check what the writer made).
struct ProtoFields {
    enum Value: Equatable { case varint(UInt64), fixed64(UInt64), bytes([UInt8]) }
    var fields: [(number: Int, value: Value)] = []

    init(_ bytes: [UInt8]) throws {
        var i = 0
        func varint() throws -> UInt64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < bytes.count, shift < 64 else { throw ReadError() }
                let b = bytes[i]
                i += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        while i < bytes.count {
            let tag = try varint()
            switch tag & 7 {
            case 0: fields.append((Int(tag >> 3), .varint(try varint())))
            case 1:
                guard i + 8 <= bytes.count else { throw ReadError() }
                let v = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << UInt64(8 * $1) }
                i += 8
                fields.append((Int(tag >> 3), .fixed64(v)))
            case 2:
                let n = Int(try varint())
                guard i + n <= bytes.count else { throw ReadError() }
                fields.append((Int(tag >> 3), .bytes(Array(bytes[i..<(i + n)]))))
                i += n
            default: throw ReadError()
            }
        }
    }

    struct ReadError: Error {}

    func all(_ n: Int) -> [Value] { fields.filter { $0.number == n }.map(\.value) }
    func bytes(_ n: Int) -> [UInt8]? { if case .bytes(let b)? = all(n).first { b } else { nil } }
    func string(_ n: Int) -> String? { bytes(n).map { String(decoding: $0, as: UTF8.self) } }
    func message(_ n: Int) throws -> ProtoFields? { try bytes(n).map(ProtoFields.init) }
    func messages(_ n: Int) throws -> [ProtoFields] {
        try all(n).compactMap { if case .bytes(let b) = $0 { try ProtoFields(b) } else { nil } }
    }
    func varint(_ n: Int) -> UInt64? { if case .varint(let v)? = all(n).first { v } else { nil } }
    func fixed64(_ n: Int) -> UInt64? { if case .fixed64(let v)? = all(n).first { v } else { nil } }

    /// `KeyValue`s as key → `AnyValue`.
    func keyValues(_ n: Int) throws -> [String: ProtoFields] {
        var out: [String: ProtoFields] = [:]
        for kv in try messages(n) { out[kv.string(1) ?? ""] = try kv.message(2) }
        return out
    }
}

/// Collects spans in memory.
final class SpanList: FinishedSpanSink {
    let spans = Mutex<[FinishedSpan]>([])
    func append(_ span: FinishedSpan) { spans.withLock { $0.append(span) } }
    var all: [FinishedSpan] { spans.withLock { $0 } }
}

/// An upstream transport that records each request and answers 200.
final class RecordingTransport: UpstreamTransport {
    let requests = Mutex<[UpstreamRequest]>([])
    func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        requests.withLock { $0.append(request) }
        return UpstreamResponse(status: 200, headers: [], body: UpstreamBody(ByteBuffer()))
    }
    var all: [UpstreamRequest] { requests.withLock { $0 } }
}

/// A dictionary as a header carrier.
struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

@Suite struct OTLPExportTests {
    static let traceID = TraceID(high: 0x0AF7_6519_16CD_43DD, low: 0x8448_EB21_1C80_319C)

    static func knownSpan() -> FinishedSpan {
        var attributes = SpanAttributes()
        attributes["switchboard.attempt"] = 2
        attributes["gen_ai.request.model"] = "m-1"
        attributes["switchboard.cost_usd"] = 0.5
        attributes["switchboard.hedged"] = true
        return FinishedSpan(identity: SpanIdentity(traceID: traceID, spanID: 0xB7AD_6B71_6920_3331, flags: 1, traceState: "e2e=1", isRemote: false),
                            parentSpanID: 0x0102_0304_0506_0708, name: "chat demo", kind: .client, startNanos: 1_000, endNanos: 2_500,
                            attributes: AttributeList(attributes), events: [SpanEvent(name: "exception", at: DefaultTracerClock.Timestamp(nanosecondsSinceEpoch: 2_000),
                                                                       attributes: ["exception.type": "E"])],
                            links: [SpanIdentity(traceID: traceID, spanID: 9, flags: 1, traceState: nil, isRemote: true)],
                            linkAttributes: [["link.kind": "follows"]], status: SpanStatus(code: .error, message: "boom"))
    }

    static let resource = ExportResource(attributes: [("service.name", "gw"), ("deployment.environment", "test")])

    /// Hand-derived bytes: a `KeyValue` ("a" → int 150) and a nested message longer than 127 bytes (two-byte length).
    @Test func protobufWriterBytes() {
        var w = ProtobufWriter()
        OTLPProtobuf.keyValue(&w, "a", .int64(150))
        #expect(w.bytes == [0x0A, 0x01, 0x61, 0x12, 0x03, 0x18, 0x96, 0x01])
        var long = ProtobufWriter()
        long.messageField(1) { $0.stringField(1, String(repeating: "x", count: 200)) }
        #expect(Array(long.bytes.prefix(6)) == [0x0A, 0xCB, 0x01, 0x0A, 0xC8, 0x01])   // 203 = 0xCB 0x01, 200 = 0xC8 0x01
        #expect(long.bytes.count == 3 + 3 + 200)
        var negative = ProtobufWriter()
        OTLPProtobuf.anyValue(&negative, .int64(-1))
        #expect(negative.bytes == [0x18] + Array(repeating: 0xFF, count: 9) + [0x01])
        var empty = ProtobufWriter()
        OTLPProtobuf.anyValue(&empty, .string(""))
        #expect(empty.bytes == [0x0A, 0x00])      // a oneof member is written even when empty
    }

    /// A known span as an `ExportTraceServiceRequest`, read back with the field numbers of opentelemetry-proto.
    @Test func protobufExportRequest() throws {
        let bytes = OTLPProtobuf.encode([Self.knownSpan()], resource: Self.resource)
        let request = try ProtoFields(bytes)
        let rs = try #require(try request.messages(1).first)
        let resource = try #require(try rs.message(1))
        let resourceAttributes = try resource.keyValues(1)
        #expect(resourceAttributes["service.name"]?.string(1) == "gw")
        #expect(resourceAttributes["deployment.environment"]?.string(1) == "test")
        #expect(try resource.messages(1).first?.string(1) == "service.name")
        let scopeSpans = try #require(try rs.messages(2).first)
        #expect(try scopeSpans.message(1)?.string(1) == "switchboard")
        let spans = try scopeSpans.messages(2)
        try #require(spans.count == 1)
        let s = spans[0]
        #expect(s.bytes(1) == [0x0A, 0xF7, 0x65, 0x19, 0x16, 0xCD, 0x43, 0xDD, 0x84, 0x48, 0xEB, 0x21, 0x1C, 0x80, 0x31, 0x9C])
        #expect(s.bytes(2) == [0xB7, 0xAD, 0x6B, 0x71, 0x69, 0x20, 0x33, 0x31])
        #expect(s.string(3) == "e2e=1")
        #expect(s.bytes(4) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(s.string(5) == "chat demo")
        #expect(s.varint(6) == 3)                  // SPAN_KIND_CLIENT
        #expect(s.fixed64(7) == 1_000)
        #expect(s.fixed64(8) == 2_500)
        let attributes = try s.keyValues(9)
        #expect(attributes["switchboard.attempt"]?.varint(3) == 2)
        #expect(attributes["gen_ai.request.model"]?.string(1) == "m-1")
        #expect(attributes["switchboard.cost_usd"]?.fixed64(4) == 0.5.bitPattern)
        #expect(attributes["switchboard.hedged"]?.varint(2) == 1)
        #expect(try s.messages(9).map { $0.string(1) ?? "" } == ["gen_ai.request.model", "switchboard.attempt", "switchboard.cost_usd", "switchboard.hedged"])
        let event = try #require(try s.messages(11).first)
        #expect(event.fixed64(1) == 2_000)
        #expect(event.string(2) == "exception")
        #expect(try event.keyValues(3)["exception.type"]?.string(1) == "E")
        let link = try #require(try s.messages(13).first)
        #expect(link.bytes(1)?.count == 16 && link.bytes(2) == [0, 0, 0, 0, 0, 0, 0, 9])
        #expect(try link.keyValues(4)["link.kind"]?.string(1) == "follows")
        let status = try #require(try s.message(15))
        #expect(status.string(2) == "boom")
        #expect(status.varint(3) == 2)             // STATUS_CODE_ERROR
    }

    /// The OTLP JSON mapping: camelCase names, hex ids, enums as numbers, 64-bit integers as strings.
    @Test func jsonExportRequest() throws {
        let bytes = OTLPJSON.encode([Self.knownSpan()], resource: Self.resource)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let rs = try #require((root["resourceSpans"] as? [[String: Any]])?.first)
        let resource = try #require((rs["resource"] as? [String: Any])?["attributes"] as? [[String: Any]])
        #expect(resource.first?["key"] as? String == "service.name")
        #expect((resource.first?["value"] as? [String: Any])?["stringValue"] as? String == "gw")
        let ss = try #require((rs["scopeSpans"] as? [[String: Any]])?.first)
        #expect((ss["scope"] as? [String: Any])?["name"] as? String == "switchboard")
        let s = try #require((ss["spans"] as? [[String: Any]])?.first)
        #expect(s["traceId"] as? String == "0af7651916cd43dd8448eb211c80319c")
        #expect(s["spanId"] as? String == "b7ad6b7169203331")
        #expect(s["parentSpanId"] as? String == "0102030405060708")
        #expect(s["traceState"] as? String == "e2e=1")
        #expect(s["name"] as? String == "chat demo")
        #expect(s["kind"] as? Int == 3)
        #expect(s["startTimeUnixNano"] as? String == "1000")
        #expect(s["endTimeUnixNano"] as? String == "2500")
        let attributes = try #require(s["attributes"] as? [[String: Any]])
        let values = Dictionary(uniqueKeysWithValues: attributes.map { ($0["key"] as? String ?? "", $0["value"] as? [String: Any] ?? [:]) })
        #expect(values["switchboard.attempt"]?["intValue"] as? String == "2")
        #expect(values["switchboard.cost_usd"]?["doubleValue"] as? Double == 0.5)
        #expect(values["switchboard.hedged"]?["boolValue"] as? Bool == true)
        #expect(values["gen_ai.request.model"]?["stringValue"] as? String == "m-1")
        let event = try #require((s["events"] as? [[String: Any]])?.first)
        #expect(event["timeUnixNano"] as? String == "2000" && event["name"] as? String == "exception")
        let link = try #require((s["links"] as? [[String: Any]])?.first)
        #expect(link["traceId"] as? String == "0af7651916cd43dd8448eb211c80319c" && link["spanId"] as? String == "0000000000000009")
        let status = try #require(s["status"] as? [String: Any])
        #expect(status["code"] as? Int == 2 && status["message"] as? String == "boom")
        // Escaping: quotes, backslashes and control characters survive a round trip.
        var j = JSONWriter()
        j.string("a\"b\\c\nd\u{1}")
        #expect(try JSONSerialization.jsonObject(with: Data(j.bytes), options: .fragmentsAllowed) as? String == "a\"b\\c\nd\u{1}")
    }

    /// TraceIdRatioBased over a seeded sequence of 10,000 trace ids; parent-based children follow the parent.
    @Test(arguments: [(0.0, 0...0), (1.0, 10_000...10_000), (0.25, 2_300...2_700), (0.5, 4_750...5_250)])
    func samplerRatio(ratio: Double, expected: ClosedRange<Int>) {
        let ids = IDGenerator(seed: 42)
        let sampler = TraceSampler.parentBased(ratio: ratio)
        let sampled = (0..<10_000).filter { _ in sampler.shouldSample(traceID: ids.traceID(), parent: nil) }.count
        #expect(expected.contains(sampled), "\(sampled) of 10,000 at \(ratio)")
        // The same seed gives the same ids, so the same decisions.
        #expect(IDGenerator(seed: 7).traceID() == IDGenerator(seed: 7).traceID())
        let parent = SpanIdentity(traceID: ids.traceID(), spanID: 1, flags: 1, traceState: nil, isRemote: true)
        #expect(sampler.shouldSample(traceID: parent.traceID, parent: parent))
        var unsampled = parent
        unsampled.flags = 0
        #expect(!sampler.shouldSample(traceID: parent.traceID, parent: unsampled))
        // Not parent-based: the ratio decides for children too.
        #expect(!TraceSampler(root: .alwaysOff, parentBased: false).shouldSample(traceID: parent.traceID, parent: parent))
    }

    /// The ratio decision compares the lower 8 bytes (shifted right by one) against ratio × 2^63.
    @Test func ratioBoundary() {
        #expect(TraceSampler.ratioDecision(TraceID(high: 1, low: 0), ratio: 0.5))
        #expect(TraceSampler.ratioDecision(TraceID(high: 1, low: (1 << 63) - 1), ratio: 0.5))
        #expect(!TraceSampler.ratioDecision(TraceID(high: 1, low: 1 << 63), ratio: 0.5))
        #expect(!TraceSampler.ratioDecision(TraceID(high: 1, low: 0), ratio: 0))
        #expect(TraceSampler.ratioDecision(TraceID(high: 1, low: .max), ratio: 1))
    }

    /// `traceparent`/`tracestate` in, a child span, and out: same trace, the child's span id, sampled flag kept.
    @Test func traceContextRoundTrip() throws {
        let list = SpanList()
        let tracer = GatewayTracer(sampler: .parentBased(ratio: 0), ids: IDGenerator(seed: 1), sink: list)
        var context = InstrumentationContext.topLevel
        tracer.extract(["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=1"],
                       into: &context, using: DictionaryExtractor())
        let span = tracer.startSpan("child", context: context, ofKind: .server)
        #expect(span.isRecording)           // the sampled parent decides, not the ratio of 0
        var out: [String: String] = [:]
        tracer.inject(span.context, into: &out, using: DictionaryInjector())
        let identity = try #require(span.context.spanIdentity)
        #expect(out["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-\(Hex.string(identity.spanID))-01")
        #expect(out["tracestate"] == "a=1")
        span.end()
        let finished = try #require(list.all.first)
        #expect(finished.parentSpanID == 0xB7AD_6B71_6920_3331)
        #expect(finished.identity.traceID == Self.traceID)
        // Malformed (upper-case hex, zero ids, another version): ignored, a new root trace.
        for bad in ["00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"] {
            var c = InstrumentationContext.topLevel
            tracer.extract(["traceparent": bad], into: &c, using: DictionaryExtractor())
            #expect(c.spanIdentity == nil, "\(bad)")
        }
    }

    /// A sampled-out span keeps nothing and exports nothing, but still carries a context (sampled flag 0).
    @Test func sampledOutSpansCarryContextOnly() throws {
        let list = SpanList()
        let tracer = GatewayTracer(sampler: .parentBased(ratio: 0), sink: list)
        let span = tracer.startSpan("root", context: .topLevel, ofKind: .server)
        #expect(!span.isRecording)
        span.attributes["a"] = "b"
        span.setStatus(SpanStatus(code: .error))
        span.recordError(ReadErrorForTest())
        #expect(span.attributes.isEmpty)
        span.end()
        #expect(list.all.isEmpty)
        var out: [String: String] = [:]
        tracer.inject(span.context, into: &out, using: DictionaryInjector())
        #expect(try #require(out["traceparent"]).hasSuffix("-00"))
        let child = tracer.startSpan("child", context: span.context, ofKind: .client)
        #expect(!child.isRecording && child.context.spanIdentity?.traceID == span.context.spanIdentity?.traceID)
    }

    /// Ordering keeps byte order of the keys and the last value of each, as a stable sort by key and a pass keeping
    /// the last of each run does, for random lists (keys alike in their first 16 bytes, prefixes of one another,
    /// non-ASCII, set several times).
    @Test func orderingMatchesAStableSortByKey() {
        var rng = SplitMix64(seed: 11)
        let keys = ["switchboard.route.reason", "switchboard.route.policy", "switchboard.route", "switchboard.rout", "switchboard.ro",
                    "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "a", "a\u{0}", "", "é.key", "e\u{301}.key", "zz", "b"]
        for _ in 0..<500 {
            var list = AttributeList()
            var plain: [(key: String, value: SpanAttribute)] = []
            for i in 0..<Int(rng.next() % 30) {
                let key = keys[Int(rng.next() % UInt64(keys.count))]
                list[key] = .int(Int64(i))
                plain.append((key, .int(Int64(i))))
            }
            // The reference: a stable sort by the keys' bytes, then the last of each run of equal keys.
            let sorted = plain.enumerated().sorted { a, b in
                AttributeList.precedes(a.element.key, b.element.key) ||
                    (!AttributeList.precedes(b.element.key, a.element.key) && a.offset < b.offset)
            }.map(\.element)
            var expected: [(key: String, value: SpanAttribute)] = []
            for (j, item) in sorted.enumerated() where j + 1 == sorted.count || sorted[j + 1].key != item.key { expected.append(item) }
            list.order()
            #expect(list.items.map(\.key) == expected.map(\.key))
            #expect(list.items.map(\.value) == expected.map(\.value))
        }
    }

    /// A list of keys seen before is ordered as it was (`KeyOrders`), whatever its values; the same keys stored
    /// elsewhere (made at run time) are no match and are sorted, to the same order.
    @Test func aKeyListSeenBeforeIsOrderedAsItWas() {
        let keys = ["switchboard.route.reason", "b", "gen_ai.request.model", "a", "switchboard.route.reason", "e\u{301}.key", "é.key"]
        let made = keys.map { String(decoding: Array($0.utf8), as: UTF8.self) }
        for (round, list) in [keys, keys, made, keys, made].enumerated() {
            var attributes = AttributeList()
            for (i, key) in list.enumerated() { attributes[key] = .int(Int64(100 * round + i)) }
            attributes.order()
            let r = Int64(100 * round)
            #expect(attributes.items.map(\.key) == ["a", "b", "e\u{301}.key", "gen_ai.request.model", "switchboard.route.reason", "é.key"],
                    "round \(round)")
            #expect(attributes.items.map(\.value) == [.int(r + 3), .int(r + 1), .int(r + 5), .int(r + 2), .int(r + 4), .int(r + 6)],
                    "round \(round)")
        }
    }

    /// A recording span's attributes: set by appending, finished in key order with the last value of a key set twice
    /// (the exporters write them as they are), nil removes; `Span.attributes` sees the same.
    @Test func attributesEndInKeyOrderWithTheLastValue() throws {
        var list = AttributeList()
        list["b.second"] = .int(1)
        list["a.first"] = .string("x")
        list["c.third"] = .bool(true)
        list["b.second"] = .int(2)
        list["gone"] = .double(1.5)
        list["gone"] = nil
        #expect(list["b.second"] == .int(2))
        let ordered = list.ordered
        #expect(ordered.items.map(\.key) == ["a.first", "b.second", "c.third"])
        #expect(ordered.items.map(\.value) == [.string("x"), .int(2), .bool(true)])
        #expect(AttributeList.precedes("a.b", "a.c") && AttributeList.precedes("a", "a.b") && !AttributeList.precedes("b", "a"))

        let sink = SpanList()
        let tracer = GatewayTracer(sampler: .parentBased(ratio: 1), sink: sink)
        let span = tracer.startSpan("op", context: .topLevel, ofKind: .server)
        span.editAttributes { a in
            a["z.last"] = .string("first")
            a["m.middle"] = .int(7)
        }
        span.attributes["a.set.through.protocol"] = true
        span.editAttributes { $0["z.last"] = .string("second") }
        #expect(span.attributes.get("z.last") == .string("second"))
        span.end()
        let finished = try #require(sink.all.first)
        #expect(finished.attributes.items.map(\.key) == ["a.set.through.protocol", "m.middle", "z.last"])
        #expect(finished.attributes["z.last"] == .string("second"))
    }

    /// Recording spans: `recordError` adds an exception event, `ok` is final, `end` exports once.
    @Test func recordingSpanFollowsTheSpec() throws {
        let list = SpanList()
        let tracer = GatewayTracer(sampler: .parentBased(ratio: 1), sink: list)
        let span = tracer.startSpan("op", context: .topLevel, ofKind: .internal)
        span.recordError(ReadErrorForTest())
        var linked = InstrumentationContext.topLevel
        linked.spanIdentity = SpanIdentity(traceID: Self.traceID, spanID: 5, flags: 1, traceState: nil, isRemote: true)
        span.addLink(SpanLink(context: linked, attributes: [:]))
        span.setStatus(SpanStatus(code: .ok, message: "ignored"))
        span.setStatus(SpanStatus(code: .error, message: "too late"))
        span.end()
        span.end()
        span.attributes["after"] = "end"
        try #require(list.all.count == 1)
        let finished = list.all[0]
        #expect(finished.status == SpanStatus(code: .ok))
        #expect(finished.events.map(\.name) == ["exception"])
        #expect(finished.links.map(\.spanID) == [5])
        #expect(finished.events.first?.attributes.get("exception.message") == .string("read error for test"))
        #expect(finished.attributes.isEmpty)
        #expect(finished.parentSpanID == nil && finished.identity.traceID.isValid)
    }

    /// A full queue drops new spans and counts them; a full batch wakes the waiting export loop.
    @Test func fullQueueDropsAndCounts() async {
        let queue = SpanQueue(capacity: 3, batchSize: 2)
        let waiting = Task { await queue.waitForBatch() }
        for _ in 0..<5 { queue.append(Self.knownSpan()) }
        await waiting.value
        #expect(queue.count == 3)
        #expect(queue.droppedTotal == 2)
        #expect(queue.takeDroppedCount() == 2 && queue.takeDroppedCount() == 0)
        #expect(queue.take(max: 2).count == 2 && queue.count == 1)
        queue.close()
        queue.append(Self.knownSpan())
        #expect(queue.droppedTotal == 3)
    }

    /// Graceful shutdown flushes what waits (long before the export interval), with the headers and content type.
    @Test(arguments: [TracingConfig.WireProtocol.protobuf, .json])
    func shutdownFlushes(wire: TracingConfig.WireProtocol) async throws {
        var config = TracingConfig()
        config.enabled = true
        config.endpoint = "http://collector.test:4318/v1/traces"
        config.exportIntervalMs = 600_000
        config.wireProtocol = wire
        config.headers = ["x-token": "secret"]
        let transport = RecordingTransport()
        let (tracing, service) = try #require(GatewayTracing.make(config, environment: [:], transport: transport, logger: Logger(label: "t")))
        for i in 0..<3 { tracing.tracer.startSpan("span \(i)", context: .topLevel, ofKind: .server).end() }
        let group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "t")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let sent = transport.all
        try #require(sent.count == 1)
        #expect(sent[0].url == "http://collector.test:4318/v1/traces" && sent[0].method == "POST")
        #expect(sent[0].headers.contains { $0.name == "x-token" && $0.value == "secret" })
        let body = Array(buffer: try #require(sent[0].body))
        switch wire {
        case .protobuf:
            #expect(sent[0].headers.contains { $0.name == "content-type" && $0.value == "application/x-protobuf" })
            let spans = try ProtoFields(body).messages(1).first?.messages(2).first?.messages(2) ?? []
            #expect(spans.compactMap { $0.string(5) }.sorted() == ["span 0", "span 1", "span 2"])
        case .json:
            #expect(sent[0].headers.contains { $0.name == "content-type" && $0.value == "application/json" })
            let root = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
            let rs = (root["resourceSpans"] as? [[String: Any]])?.first
            let spans = ((rs?["scopeSpans"] as? [[String: Any]])?.first?["spans"] as? [[String: Any]]) ?? []
            #expect(spans.compactMap { $0["name"] as? String }.sorted() == ["span 0", "span 1", "span 2"])
        }
        // After the exporter is gone, a span is dropped, not kept.
        tracing.tracer.startSpan("late", context: .topLevel, ofKind: .server).end()
        #expect(transport.all.count == 1)
    }
}

struct ReadErrorForTest: Error, CustomStringConvertible {
    var description: String { "read error for test" }
}
