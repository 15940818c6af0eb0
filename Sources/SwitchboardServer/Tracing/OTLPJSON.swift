import Tracing
import SwitchboardCore

/// OTLP/HTTP JSON: the same `ExportTraceServiceRequest` in the OTLP JSON mapping — lower camel case field names,
/// trace and span ids as hex, enums as numbers, 64-bit integers (times, int attributes) as strings.
enum OTLPJSON {
    static func encode(_ spans: [FinishedSpan], resource: ExportResource) -> [UInt8] {
        var j = JSONWriter()
        j.raw(#"{"resourceSpans":[{"resource":{"attributes":["#)
        for (i, a) in resource.attributes.enumerated() {
            if i > 0 { j.raw(",") }
            keyValue(&j, a.key, .string(a.value))
        }
        j.raw(#"]},"scopeSpans":[{"scope":{"name":"#)
        j.string(resource.scopeName)
        j.raw(#"},"spans":["#)
        for (i, s) in spans.enumerated() {
            if i > 0 { j.raw(",") }
            span(&j, s)
        }
        j.raw("]}]}]}")
        return j.bytes
    }

    static func span(_ j: inout JSONWriter, _ s: FinishedSpan) {
        j.raw(#"{"traceId":""#)
        j.raw(s.identity.traceID.hex)
        j.raw(#"","spanId":""#)
        j.raw(Hex.string(s.identity.spanID))
        j.raw("\"")
        if let state = s.identity.traceState {
            j.raw(#","traceState":"#)
            j.string(state)
        }
        if let parent = s.parentSpanID {
            j.raw(#","parentSpanId":""#)
            j.raw(Hex.string(parent))
            j.raw("\"")
        }
        j.raw(#","name":"#)
        j.string(s.name)
        j.raw(#","kind":\#(OTLPProtobuf.kindNumber(s.kind)),"startTimeUnixNano":"\#(s.startNanos)","endTimeUnixNano":"\#(s.endNanos)""#)
        attributes(&j, s.attributes)
        if !s.events.isEmpty {
            j.raw(#","events":["#)
            for (i, e) in s.events.enumerated() {
                if i > 0 { j.raw(",") }
                j.raw(#"{"timeUnixNano":"\#(e.nanosecondsSinceEpoch)","name":"#)
                j.string(e.name)
                attributes(&j, e.attributes)
                j.raw("}")
            }
            j.raw("]")
        }
        if !s.links.isEmpty {
            j.raw(#","links":["#)
            for (i, (link, attrs)) in zip(s.links, s.linkAttributes).enumerated() {
                if i > 0 { j.raw(",") }
                j.raw(#"{"traceId":"\#(link.traceID.hex)","spanId":"\#(Hex.string(link.spanID))""#)
                if let state = link.traceState {
                    j.raw(#","traceState":"#)
                    j.string(state)
                }
                attributes(&j, attrs)
                j.raw("}")
            }
            j.raw("]")
        }
        if let status = s.status {
            j.raw(#","status":{"#)
            if status.code == .error, let message = status.message {
                j.raw(#""message":"#)
                j.string(message)
                j.raw(",")
            }
            j.raw(#""code":\#(status.code == .error ? 2 : 1)}"#)
        }
        j.raw("}")
    }

    /// `,"attributes":[...]` in key order; nothing when there are none.
    static func attributes(_ j: inout JSONWriter, _ attributes: SpanAttributes) {
        self.attributes(&j, AttributeList(attributes))
    }

    static func attributes(_ j: inout JSONWriter, _ attributes: AttributeList) {
        guard !attributes.isEmpty else { return }
        j.raw(#","attributes":["#)
        for (i, (key, value)) in attributes.items.enumerated() {
            if i > 0 { j.raw(",") }
            keyValue(&j, key, value)
        }
        j.raw("]")
    }

    static func keyValue(_ j: inout JSONWriter, _ key: String, _ value: SpanAttribute) {
        j.raw(#"{"key":"#)
        j.string(key)
        j.raw(#","value":"#)
        anyValue(&j, value)
        j.raw("}")
    }

    static func anyValue(_ j: inout JSONWriter, _ value: SpanAttribute) {
        switch value {
        case .string(let s):
            j.raw(#"{"stringValue":"#)
            j.string(s)
            j.raw("}")
        case .stringConvertible(let c):
            j.raw(#"{"stringValue":"#)
            j.string(c.description)
            j.raw("}")
        case .bool(let b): j.raw(b ? #"{"boolValue":true}"# : #"{"boolValue":false}"#)
        case .int32(let i): j.raw(#"{"intValue":"\#(i)"}"#)
        case .int64(let i): j.raw(#"{"intValue":"\#(i)"}"#)
        case .double(let d):
            j.raw(#"{"doubleValue":"#)
            j.double(d)
            j.raw("}")
        case .stringArray(let a): array(&j, a.map { .string($0) })
        case .int32Array(let a): array(&j, a.map { .int32($0) })
        case .int64Array(let a): array(&j, a.map { .int64($0) })
        case .doubleArray(let a): array(&j, a.map { .double($0) })
        case .boolArray(let a): array(&j, a.map { .bool($0) })
        case .stringConvertibleArray(let a): array(&j, a.map { .string($0.description) })
        default:
            j.raw(#"{"stringValue":"#)
            j.string("\(value)")
            j.raw("}")
        }
    }

    private static func array(_ j: inout JSONWriter, _ values: [SpanAttribute]) {
        j.raw(#"{"arrayValue":{"values":["#)
        for (i, v) in values.enumerated() {
            if i > 0 { j.raw(",") }
            anyValue(&j, v)
        }
        j.raw("]}}")
    }
}

/// Appends JSON text to a byte array: raw fragments, escaped strings, numbers.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// A JSON string, quoted and escaped as the gateway's other hand-written JSON is (`JSONString`).
    mutating func string(_ s: String) { raw(JSONString.quote(s)) }

    /// A finite double as a JSON number; NaN and the infinities as the strings proto3's JSON mapping uses.
    mutating func double(_ d: Double) {
        if d.isNaN { raw(#""NaN""#) } else if d.isInfinite { raw(d > 0 ? #""Infinity""# : #""-Infinity""#) } else { raw("\(d)") }
    }
}
