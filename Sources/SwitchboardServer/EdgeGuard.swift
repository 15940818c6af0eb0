import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore
import Synchronization

/// Failed authentications per client address (`waf.auth_failures`): after `max` within `window_s`, the address is
/// refused for `block_s`, whatever key it presents. Bounded: at most `capacity` addresses are tracked; when full,
/// entries whose window and block are over go first, then the oldest.
final class AuthFailureBook: Sendable {
    struct Entry {
        var windowStart: Double
        var count: Int
        var blockedUntil: Double
    }

    let limits: WAFConfig.AuthFailures
    let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])

    init(_ limits: WAFConfig.AuthFailures, capacity: Int = 100_000) {
        self.limits = limits
        self.capacity = capacity
    }

    /// Seconds the address stays refused (nil: it is not).
    func blocked(_ address: String, now: Double) -> Double? {
        entries.withLock { e in
            guard let until = e[address]?.blockedUntil, until > now else { return nil }
            return until - now
        }
    }

    /// Counts a failed authentication; true when it blocks the address.
    @discardableResult
    func failed(_ address: String, now: Double) -> Bool {
        entries.withLock { e in
            if e[address] == nil, e.count >= capacity { Self.evict(&e, now: now, windowSeconds: limits.windowSeconds) }
            var entry = e[address] ?? Entry(windowStart: now, count: 0, blockedUntil: 0)
            if now - entry.windowStart >= limits.windowSeconds { entry = Entry(windowStart: now, count: 0, blockedUntil: entry.blockedUntil) }
            entry.count += 1
            let blocks = entry.count >= limits.max && entry.blockedUntil <= now
            if blocks { entry.blockedUntil = now + limits.blockSeconds }
            e[address] = entry
            return blocks
        }
    }

    var tracked: Int { entries.withLock { $0.count } }

    private static func evict(_ e: inout [String: Entry], now: Double, windowSeconds: Double) {
        let before = e.count
        e = e.filter { $0.value.blockedUntil > now || now - $0.value.windowStart < windowSeconds }
        if e.count == before, let oldest = e.min(by: { $0.value.windowStart < $1.value.windowStart })?.key { e.removeValue(forKey: oldest) }
    }
}

/// The edge (`waf:`), before any key is looked at: a client outside `allow` or inside `deny` gets 403
/// `ip_not_allowed`; an address that failed authentication too often gets 429 `auth_throttled` until its block ends;
/// a request past `max_header_bytes` / `max_headers` gets 431 `headers_too_large`. A body past `waf`'s body limits is
/// refused by the parse that reads it (`RequestLimits`), and counted here on its way out.
/// Refusals are counted (`switchboard_refused_total{reason}`) and logged with the address and path, never a body.
struct EdgeMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let waf: WAFConfig
    let failures: AuthFailureBook?
    let metrics: GatewayMetrics?
    let now: @Sendable () -> Double

    init(waf: WAFConfig, metrics: GatewayMetrics?, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.waf = waf
        failures = waf.authFailures.map { AuthFailureBook($0) }
        self.metrics = metrics
        self.now = now
    }

    /// The checks and the error handling are in functions of their own (`@inline(never)`): this frame stays
    /// allocated for the whole request, on the deepest chain of its task's memory, and is kept small.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let context = try checked(request, context)
        do {
            return try await next(request, context)
        } catch {
            throw failed(error, request, context)
        }
    }

    /// The context with the forwarded address when it is trusted; throws the refusal of a request the edge turns away.
    @inline(never)
    func checked(_ request: Request, _ context: Context) throws -> Context {
        var context = context
        if waf.trustForwardedFor, let first = commaList(request.headers.value(.xForwardedFor)).first {
            context.forwardedAddress = first
        }
        let address = context.clientAddress
        if !waf.deny.isEmpty || !waf.allow.isEmpty {
            let denied = address.map { waf.deny.contains(address: $0) } ?? false
            // An address the gateway cannot tell is outside every allowed network.
            let outside = !waf.allow.isEmpty && !(address.map { waf.allow.contains(address: $0) } ?? false)
            if denied || outside {
                throw refuse(GatewayError(.ipNotAllowed, "Requests from this address are not allowed."), address, request, context)
            }
        }
        if let error = headerError(request.headers) { throw refuse(error, address, request, context) }
        if let address, let failures, let wait = failures.blocked(address, now: now()) {
            throw refuse(GatewayError(.authThrottled, "Too many failed authentications from this address; retry in \(Int(wait.rounded(.up))) s.",
                                      retryAfterSeconds: max(1, Int(wait.rounded(.up)))), address, request, context)
        }
        return context
    }

    /// What a failure of the rest of the chain becomes: a failed authentication counts against the address, a body
    /// refusal is counted as the edge's.
    @inline(never)
    func failed(_ error: any Error, _ request: Request, _ context: Context) -> any Error {
        guard let error = error as? GatewayError else { return error }
        let address = context.clientAddress
        if error.code == .invalidAPIKey || error.code == .missingAPIKey {
            if let address, let failures, failures.failed(address, now: now()) {
                context.logger.warning("Address blocked after failed authentications", metadata: [
                    "client.address": "\(address)", "failures": "\(failures.limits.max)", "block_s": "\(failures.limits.blockSeconds)"])
            }
            return error
        }
        if Self.bodyRefusals.contains(error.code) { return refuse(error, address, request, context) }
        return error
    }

    /// The codes of `RequestLimits`' refusals.
    static let bodyRefusals: Set<GatewayError.Code> = [.jsonTooDeep, .tooManyMessages, .contentTooLarge]

    /// 431 when the request's headers are more than `max_headers` fields or `max_header_bytes` of names and values.
    func headerError(_ headers: HTTPFields) -> GatewayError? {
        if let max = waf.maxHeaders, headers.count > max {
            return GatewayError(.headersTooLarge, "The request has \(headers.count) header fields; this gateway accepts at most \(max).")
        }
        guard let max = waf.maxHeaderBytes else { return nil }
        var bytes = 0
        for field in headers { bytes += field.name.rawName.utf8.count + field.value.utf8.count }
        guard bytes > max else { return nil }
        return GatewayError(.headersTooLarge, "The request's headers are \(bytes) bytes; this gateway accepts at most \(max).")
    }

    private func refuse(_ error: GatewayError, _ address: String?, _ request: Request, _ context: Context) -> GatewayError {
        metrics?.refusedAtEdge(error.code.name)
        context.logger.notice("Refused at the edge", metadata: ["reason": "\(error.code.name)", "client.address": "\(address ?? "unknown")",
                                                                "path": "\(request.uri.path)"])
        return error
    }
}
