import Foundation
import HTTPTypes
import Logging
import ServiceLifecycle
import Synchronization
import SwitchboardCore
import SwitchboardProviders
import Tracing

/// The W3C trace context a client sent (`traceparent`, `tracestate`). Only these two headers: a carrier that is
/// logged on a parse failure must never hold the client's key.
struct TraceHeaders: Sendable, CustomStringConvertible {
    var traceparent: String?
    var tracestate: String?

    init(traceparent: String? = nil, tracestate: String? = nil) {
        self.traceparent = traceparent
        self.tracestate = tracestate
    }

    /// Only a well-formed `traceparent` (version 00: 55 characters, lower-case hex ids that are not all zero) is
    /// taken; `tracestate` only with one (W3C Trace Context §3.3). Anything else is ignored, never logged or passed on.
    init(_ headers: HTTPFields) {
        guard let value = headers.value(.traceparent), Self.isValid(value) else { return }
        traceparent = value
        tracestate = headers.value(.tracestate).flatMap { $0.utf8.count <= 512 ? $0 : nil }
    }

    static func isValid(_ traceparent: String) -> Bool {
        SpanIdentity(traceparent: traceparent, traceState: nil) != nil
    }

    /// As upstream headers, passed on unchanged (tracing off).
    var passthrough: [(name: String, value: String)] {
        var h: [(name: String, value: String)] = []
        if let traceparent { h.append(("traceparent", traceparent)) }
        if let tracestate { h.append(("tracestate", tracestate)) }
        return h
    }

    var description: String { "traceparent=\(traceparent ?? "-") tracestate=\(tracestate ?? "-")" }
}

extension HTTPField.Name {
    static let traceparent = Self("traceparent")!
    static let tracestate = Self("tracestate")!
}

private struct TraceHeadersExtractor: Extractor {
    func extract(key: String, from carrier: TraceHeaders) -> String? {
        switch key.lowercased() {
        case "traceparent": carrier.traceparent
        case "tracestate": carrier.tracestate
        default: nil
        }
    }
}

private struct HeaderListInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [(name: String, value: String)]) {
        carrier.append((key.lowercased(), value))
    }
}

/// OpenTelemetry spans for the gateway (`tracing:`): one server span per request, a client span per upstream
/// attempt with the routing decision as attributes, W3C trace context taken from the client and given to the
/// upstream. Recorded by `GatewayTracer` and exported over OTLP/HTTP by `SpanExportService`, off the request path.
public struct GatewayTracing: Sendable {
    let tracer: any Tracer

    init(tracer: any Tracer) { self.tracer = tracer }

    /// The tracer and the background service that exports its spans (run it with the server), or nil when tracing
    /// is off. The `OTEL_*` variables of `environment` override the configuration (`TraceExportSettings`).
    public static func make(_ config: TracingConfig, logger: Logger) throws -> (GatewayTracing, any Service)? {
        make(config, environment: ProcessInfo.processInfo.environment, logger: logger)
    }

    static func make(_ config: TracingConfig, environment: [String: String], transport: (any UpstreamTransport)? = nil,
                     logger: Logger) -> (GatewayTracing, any Service)? {
        guard config.enabled else { return nil }
        // Header values are secrets: whatever this logs goes through the handler that drops value-bearing metadata.
        var diagnostics = Logger(label: logger.label, factory: { _ in RedactingLogHandler(base: logger.handler) })
        diagnostics.logLevel = logger.logLevel
        let settings = TraceExportSettings(config, environment: environment, logger: diagnostics)
        let queue = SpanQueue(capacity: settings.maxQueue, batchSize: settings.batchSize)
        let tracer = GatewayTracer(sampler: settings.sampler, sink: queue)
        let service = SpanExportService(queue: queue, settings: settings, transport: transport, logger: diagnostics)
        return (GatewayTracing(tracer: tracer), service)
    }

    /// The span of one client request, a child of the client's `traceparent` when it sent one. `model` must be a
    /// configured name (or `unknown`): span names and attributes never carry what a client made up.
    func requestSpan(operation: String, model: String, requestID: String, client: TraceHeaders, identity: Identity) -> any Span {
        var parent = ServiceContext.topLevel
        if client.traceparent != nil { tracer.extract(client, into: &parent, using: TraceHeadersExtractor()) }
        let span = tracer.startSpan("\(operation) \(model)", context: parent, ofKind: .server)
        // A span sampled out records nothing: its attributes are not even built.
        guard span.isRecording else { return span }
        span.editAttributes { a in
            a["gen_ai.operation.name"] = .string(operation)
            a["gen_ai.request.model"] = .string(model)
            a["switchboard.request_id"] = .string(requestID)
            a["switchboard.key.name"] = .string(identity.name)
            if let team = identity.team { a["switchboard.team"] = .string(team) }
        }
        return span
    }

    /// The span of one upstream attempt under `parent`, and the headers that carry it to the upstream.
    func attemptSpan(parent: any Span, provider: String, deployment: String, model: String, policy: String,
                     reason: String, attempt: Int, delayMs: Double) -> (any Span, [(name: String, value: String)]) {
        let span = tracer.startSpan("attempt \(provider)/\(deployment)", context: parent.context, ofKind: .client)
        if span.isRecording { span.editAttributes { a in
            a["gen_ai.request.model"] = .string(deployment)
            a["switchboard.model"] = .string(model)
            a["switchboard.provider"] = .string(provider)
            a["switchboard.deployment"] = .string(deployment)
            a["switchboard.route.policy"] = .string(policy)
            a["switchboard.route.reason"] = .string(reason)
            a["switchboard.attempt"] = .int(Int64(attempt))
            if delayMs > 0 { a["switchboard.route.backoff_ms"] = .double(delayMs) }
        } }
        var headers: [(name: String, value: String)] = []
        tracer.inject(span.context, into: &headers, using: HeaderListInjector())
        return (span, headers)
    }
}

/// A request's span and its answering stream's attempt span, ended exactly once: with the request's record, or on
/// deinit if the request vanished without one (a recording span that never ends would stay in the tracer).
final class RequestSpans: Sendable {
    let request: any Span
    private let attempt = Mutex<(any Span)?>(nil)
    private let done = Atomic<Bool>(false)

    init(_ request: any Span) { self.request = request }

    func setAttempt(_ span: any Span) { attempt.withLock { $0 = span } }

    func end(_ record: RequestRecord) {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let failed = record.status >= 400 || record.status == 0
        attempt.withLock { $0 }?.endAttempt(status: nil, error: failed ? record.errorCode ?? "error" : nil, ttftMs: nil)
        request.endRequest(record)
    }

    deinit {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        attempt.withLock { $0 }?.end()
        request.attributes["switchboard.abandoned"] = true
        request.end()
    }
}

/// Passes log records on without the metadata that could show configuration values (header values among them): the
/// tracing exporter's diagnostics go through it.
struct RedactingLogHandler: LogHandler {
    var base: any LogHandler
    static let hidden: Set<String> = ["previous_value", "environment_value", "new_value", "value", "headers", "carrier"]

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }
    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var kept = event
        kept.metadata = event.metadata?.filter { !Self.hidden.contains($0.key) }
        base.log(event: kept)
    }
}

extension Span {
    /// `updateAttributes`, in place when the span is the gateway's own (no copy of the attributes per update).
    func editAttributes(_ body: (inout AttributeList) -> Void) {
        if let own = self as? RecordedSpan { return own.modifyAttributes(body) }
        updateAttributes { attributes in
            var list = AttributeList(attributes)
            body(&list)
            attributes = list.spanAttributes
        }
    }

    /// Ends an attempt span with its outcome.
    func endAttempt(status: Int?, error: String?, ttftMs: Double?) {
        guard isRecording else { return end() }
        editAttributes { a in
            if let status { a["http.response.status_code"] = .int(Int64(status)) }
            if let ttftMs { a["switchboard.ttft_ms"] = .double(ttftMs) }
            if let error { a["error.type"] = .string(error) }
        }
        if let error { setStatus(SpanStatus(code: .error, message: error)) }
        end()
    }

    /// Ends a request span with what its record says.
    func endRequest(_ r: RequestRecord) {
        guard isRecording else { return end() }
        editAttributes { a in
            a["http.response.status_code"] = .int(Int64(r.status))
            if let p = r.provider { a["switchboard.provider"] = .string(p) }
            if let d = r.upstreamModel {
                a["switchboard.deployment"] = .string(d)
                a["gen_ai.response.model"] = .string(d)
            }
            if let m = r.servedModel { a["switchboard.served_model"] = .string(m) }
            a["switchboard.attempts"] = .int(Int64(r.attempts))
            if let reason = r.routeReason { a["switchboard.route.reason"] = .string(reason) }
            if let rule = r.routeRule { a["switchboard.route.rule"] = .string(rule) }
            if r.hedged { a["switchboard.hedged"] = .bool(true) }
            if r.status < 400 || r.usage.totalTokens > 0 {
                a["gen_ai.usage.input_tokens"] = .int(Int64(r.usage.promptTokens))
                a["gen_ai.usage.output_tokens"] = .int(Int64(r.usage.completionTokens))
                if r.usage.cachedTokens > 0 { a["gen_ai.usage.cache_read.input_tokens"] = .int(Int64(r.usage.cachedTokens)) }
            }
            a["switchboard.cost_usd"] = .double(r.costUSD)
            if let ttft = r.ttftMs { a["switchboard.ttft_ms"] = .double(ttft) }
            if let code = r.errorCode { a["error.type"] = .string(code) }
        }
        // Server spans: 5xx are the gateway's errors; 4xx are the client's and stay unset.
        if r.status >= 500 || r.status == 0 { setStatus(SpanStatus(code: .error, message: r.errorCode)) }
        end()
    }
}
