import Synchronization
import Tracing

/// A span as it is exported: everything recorded, frozen when the span ended.
struct FinishedSpan: Sendable {
    var identity: SpanIdentity
    var parentSpanID: UInt64?
    var name: String
    var kind: SpanKind
    var startNanos: UInt64
    var endNanos: UInt64
    var attributes: AttributeList
    var events: [SpanEvent]
    var links: [SpanIdentity]
    var linkAttributes: [SpanAttributes]
    var status: SpanStatus?
}

/// Where finished spans go (the export queue, or a test's list).
protocol FinishedSpanSink: Sendable {
    func append(_ span: FinishedSpan)
}

/// The gateway's OpenTelemetry tracer (swift-distributed-tracing's `Tracer`): ids from a per-process generator,
/// parent-based sampling, W3C `traceparent`/`tracestate` in and out, and each recorded span handed to a sink when it
/// ends — under one lock, no task and no actor per span.
final class GatewayTracer: Tracer, Sendable {
    typealias Span = RecordedSpan

    let sampler: TraceSampler
    let ids: IDGenerator
    let sink: any FinishedSpanSink

    init(sampler: TraceSampler, ids: IDGenerator = IDGenerator(), sink: any FinishedSpanSink) {
        self.sampler = sampler
        self.ids = ids
        self.sink = sink
    }

    func startSpan<Instant: TracerInstant>(_ operationName: String, context: @autoclosure () -> InstrumentationContext,
                                           ofKind kind: SpanKind, at instant: @autoclosure () -> Instant,
                                           function: String, file fileID: String, line: UInt) -> RecordedSpan {
        var context = context()
        let parent = context.spanIdentity
        let traceID = parent?.traceID ?? ids.traceID()
        let sampled = sampler.shouldSample(traceID: traceID, parent: parent)
        let identity = SpanIdentity(traceID: traceID, spanID: ids.spanID(), flags: sampled ? 1 : 0,
                                    traceState: parent?.traceState, isRemote: false)
        context.spanIdentity = identity
        guard sampled else { return RecordedSpan(context: context, identity: identity) }
        return RecordedSpan(context: context, identity: identity, parentSpanID: parent?.spanID, name: operationName, kind: kind,
                            start: instant().nanosecondsSinceEpoch, sink: sink)
    }

    func forceFlush() {}

    // MARK: W3C Trace Context

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let value = extractor.extract(key: "traceparent", from: carrier),
              let identity = SpanIdentity(traceparent: value, traceState: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.spanIdentity = identity
    }

    func inject<Carrier, Inject: Injector>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let identity = context.spanIdentity else { return }
        injector.inject(identity.traceparent, forKey: "traceparent", into: &carrier)
        if let state = identity.traceState { injector.inject(state, forKey: "tracestate", into: &carrier) }
    }
}

/// One span of `GatewayTracer`. A sampled-out span (`isRecording` false) only carries its context: it stores no
/// attributes, events or status, and ending it exports nothing. A recording span keeps its state under one lock
/// and hands a `FinishedSpan` to the sink when it ends (once; later changes are ignored).
final class RecordedSpan: Span, Sendable {
    let context: InstrumentationContext
    let isRecording: Bool
    private let state: Mutex<State>
    private let sink: (any FinishedSpanSink)?

    private struct State {
        var name: String
        var attributes = AttributeList()
        var events: [SpanEvent] = []
        var links: [SpanIdentity] = []
        var linkAttributes: [SpanAttributes] = []
        var status: SpanStatus?
        var ended = false
    }

    private let identity: SpanIdentity
    private let parentSpanID: UInt64?
    private let kind: SpanKind
    private let start: UInt64

    /// A sampled-out span.
    init(context: InstrumentationContext, identity: SpanIdentity) {
        self.context = context
        self.identity = identity
        isRecording = false
        state = Mutex(State(name: ""))
        sink = nil
        parentSpanID = nil
        kind = .internal
        start = 0
    }

    init(context: InstrumentationContext, identity: SpanIdentity, parentSpanID: UInt64?, name: String, kind: SpanKind,
         start: UInt64, sink: any FinishedSpanSink) {
        self.context = context
        self.identity = identity
        self.parentSpanID = parentSpanID
        self.kind = kind
        self.start = start
        self.sink = sink
        isRecording = true
        state = Mutex(State(name: name, attributes: AttributeList(capacity: 24)))
    }

    var operationName: String {
        get { isRecording ? state.withLock { $0.name } : "" }
        set { if isRecording { state.withLock { if !$0.ended { $0.name = newValue } } } }
    }

    var attributes: SpanAttributes {
        get { isRecording ? state.withLock { $0.attributes.spanAttributes } : [:] }
        set {
            guard isRecording else { return }
            let list = AttributeList(newValue)
            state.withLock { if !$0.ended { $0.attributes = list } }
        }
    }

    /// Changes the attributes in place under the lock: what `updateAttributes` does, without copying them first.
    /// `body` must not touch this span.
    func modifyAttributes(_ body: (inout AttributeList) -> Void) {
        guard isRecording else { return }
        state.withLock { if !$0.ended { body(&$0.attributes) } }
    }

    /// OpenTelemetry's rules: `ok` is final, `unset` changes nothing, a message only goes with `error`.
    func setStatus(_ status: SpanStatus) {
        guard isRecording else { return }
        state.withLock { s in
            guard !s.ended, s.status?.code != .ok else { return }
            switch status.code {
            case .ok: s.status = SpanStatus(code: .ok)
            case .error: s.status = status
            }
        }
    }

    func addEvent(_ event: SpanEvent) {
        guard isRecording else { return }
        state.withLock { if !$0.ended { $0.events.append(event) } }
    }

    /// An `exception` event with `exception.type` and `exception.message` (OpenTelemetry's semantic conventions);
    /// the span's status is left to the caller.
    func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        guard isRecording else { return }
        var a = attributes
        a["exception.type"] = String(reflecting: type(of: error))
        a["exception.message"] = String(describing: error)
        addEvent(SpanEvent(name: "exception", at: instant(), attributes: a))
    }

    func addLink(_ link: SpanLink) {
        guard isRecording, let linked = link.context.spanIdentity else { return }
        state.withLock { s in
            guard !s.ended else { return }
            s.links.append(linked)
            s.linkAttributes.append(link.attributes)
        }
    }

    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        guard let sink else { return }
        let end = instant().nanosecondsSinceEpoch
        let finished: FinishedSpan? = state.withLock { s in
            guard !s.ended else { return nil }
            s.ended = true
            // In key order where they are: ordering a copy made the list's storage be copied first, every field of it.
            s.attributes.order()
            return FinishedSpan(identity: identity, parentSpanID: parentSpanID, name: s.name, kind: kind, startNanos: start,
                                endNanos: max(end, start), attributes: s.attributes, events: s.events, links: s.links,
                                linkAttributes: s.linkAttributes, status: s.status)
        }
        if let finished { sink.append(finished) }
    }
}
