import Tracing

/// What an export says about the process besides its spans: the resource's attributes (`service.name` first) and
/// the instrumentation scope.
struct ExportResource: Sendable, Equatable {
    var attributes: [(key: String, value: String)]
    var scopeName = "switchboard"

    static func == (a: Self, b: Self) -> Bool {
        a.scopeName == b.scopeName && a.attributes.map(\.key) == b.attributes.map(\.key) && a.attributes.map(\.value) == b.attributes.map(\.value)
    }
}

/// The smallest protobuf writer OTLP needs: varints, fixed64, length-delimited fields. A nested message is written
/// in place with a one-byte length that is widened afterwards if the message came out longer, so only that message's
/// own bytes ever move.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, wireType: UInt8) { varint(UInt64(field) << 3 | UInt64(wireType)) }

    /// A varint field; `always` writes a zero too (members of a `oneof`).
    mutating func varintField(_ field: Int, _ value: UInt64, always: Bool = false) {
        guard value != 0 || always else { return }
        tag(field, wireType: 0)
        varint(value)
    }

    mutating func fixed64Field(_ field: Int, _ value: UInt64) {
        tag(field, wireType: 1)
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// A span id as an 8-byte `bytes` field (big-endian).
    mutating func idField(_ field: Int, _ id: UInt64) {
        tag(field, wireType: 2)
        bytes.append(8)
        appendBigEndian(id)
    }

    /// A trace id as a 16-byte `bytes` field.
    mutating func idField(_ field: Int, _ id: TraceID) {
        tag(field, wireType: 2)
        bytes.append(16)
        appendBigEndian(id.high)
        appendBigEndian(id.low)
    }

    private mutating func appendBigEndian(_ v: UInt64) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func doubleField(_ field: Int, _ value: Double) { fixed64Field(field, value.bitPattern) }

    mutating func bytesField<Bytes: Collection<UInt8>>(_ field: Int, _ value: Bytes) {
        tag(field, wireType: 2)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A string field; `always` writes an empty one too (members of a `oneof`).
    mutating func stringField(_ field: Int, _ value: String, always: Bool = false) {
        guard !value.isEmpty || always else { return }
        bytesField(field, value.utf8)
    }

    mutating func messageField(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, wireType: 2)
        let lengthAt = bytes.count
        bytes.append(0)
        body(&self)
        let length = bytes.count - lengthAt - 1
        if length < 0x80 {
            bytes[lengthAt] = UInt8(length)
        } else {
            var prefix = ProtobufWriter()
            prefix.varint(UInt64(length))
            bytes.replaceSubrange(lengthAt..<(lengthAt + 1), with: prefix.bytes)
        }
    }
}

/// OTLP/HTTP protobuf: an `ExportTraceServiceRequest` (opentelemetry-proto collector/trace/v1) with one
/// `ResourceSpans` holding one `ScopeSpans`. Field numbers from trace/v1/trace.proto, common/v1/common.proto and
/// resource/v1/resource.proto.
enum OTLPProtobuf {
    static func encode(_ spans: [FinishedSpan], resource: ExportResource) -> [UInt8] {
        var w = ProtobufWriter(capacity: 256 + spans.count * 512)
        w.messageField(1) { rs in                                   // ExportTraceServiceRequest.resource_spans
            rs.messageField(1) { r in                               // ResourceSpans.resource
                for a in resource.attributes {                      // Resource.attributes
                    r.messageField(1) { kv in keyValue(&kv, a.key, .string(a.value)) }
                }
            }
            rs.messageField(2) { ss in                              // ResourceSpans.scope_spans
                ss.messageField(1) { $0.stringField(1, resource.scopeName) }   // ScopeSpans.scope: name
                for s in spans { ss.messageField(2) { span(&$0, s) } }     // ScopeSpans.spans
            }
        }
        return w.bytes
    }

    static func span(_ w: inout ProtobufWriter, _ s: FinishedSpan) {
        w.idField(1, s.identity.traceID)
        w.idField(2, s.identity.spanID)
        if let state = s.identity.traceState { w.stringField(3, state) }
        if let parent = s.parentSpanID { w.idField(4, parent) }
        w.stringField(5, s.name)
        w.varintField(6, UInt64(kindNumber(s.kind)))
        w.fixed64Field(7, s.startNanos)
        w.fixed64Field(8, s.endNanos)
        attributes(&w, field: 9, s.attributes)
        for e in s.events {
            w.messageField(11) { ev in
                ev.fixed64Field(1, e.nanosecondsSinceEpoch)
                ev.stringField(2, e.name)
                attributes(&ev, field: 3, e.attributes)
            }
        }
        for (link, attrs) in zip(s.links, s.linkAttributes) {
            w.messageField(13) { l in
                l.idField(1, link.traceID)
                l.idField(2, link.spanID)
                if let state = link.traceState { l.stringField(3, state) }
                attributes(&l, field: 4, attrs)
            }
        }
        if let status = s.status {
            w.messageField(15) { st in
                if status.code == .error, let message = status.message { st.stringField(2, message) }
                st.varintField(3, status.code == .error ? 2 : 1)
            }
        }
    }

    /// `SpanKind` as OTLP numbers it.
    static func kindNumber(_ kind: SpanKind) -> Int {
        switch kind {
        case .internal: 1
        case .server: 2
        case .client: 3
        case .producer: 4
        case .consumer: 5
        }
    }

    /// Attributes in key order (a stable export, and tests can compare bytes).
    static func attributes(_ w: inout ProtobufWriter, field: Int, _ attributes: AttributeList) {
        // Read in place (a `for (key, value) in` copied every key and value, and destroyed the copies).
        attributes.items.withUnsafeBufferPointer { items in
            for i in items.indices { w.messageField(field) { keyValue(&$0, items[i].key, items[i].value) } }
        }
    }

    static func attributes(_ w: inout ProtobufWriter, field: Int, _ attributes: SpanAttributes) {
        self.attributes(&w, field: field, AttributeList(attributes))
    }

    static func keyValue(_ w: inout ProtobufWriter, _ key: String, _ value: SpanAttribute) {
        w.stringField(1, key)
        w.messageField(2) { anyValue(&$0, value) }
    }

    /// `AnyValue`: 1 string, 2 bool, 3 int, 4 double, 5 array.
    static func anyValue(_ w: inout ProtobufWriter, _ value: SpanAttribute) {
        switch value {
        case .string(let s): w.stringField(1, s, always: true)
        case .bool(let b): w.varintField(2, b ? 1 : 0, always: true)
        case .int32(let i): w.varintField(3, UInt64(bitPattern: Int64(i)), always: true)
        case .int64(let i): w.varintField(3, UInt64(bitPattern: i), always: true)
        case .double(let d): w.doubleField(4, d)
        case .stringConvertible(let c): w.stringField(1, c.description, always: true)
        case .stringArray(let a): array(&w, a.map { .string($0) })
        case .int32Array(let a): array(&w, a.map { .int32($0) })
        case .int64Array(let a): array(&w, a.map { .int64($0) })
        case .doubleArray(let a): array(&w, a.map { .double($0) })
        case .boolArray(let a): array(&w, a.map { .bool($0) })
        case .stringConvertibleArray(let a): array(&w, a.map { .string($0.description) })
        default: w.stringField(1, "\(value)", always: true)
        }
    }

    private static func array(_ w: inout ProtobufWriter, _ values: [SpanAttribute]) {
        w.messageField(5) { arr in for v in values { arr.messageField(1) { anyValue(&$0, v) } } }
    }
}
