import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import ServiceLifecycle
import SwitchboardCore
import SwitchboardProviders
import SwitchboardRouting
import Synchronization

/// `router.pricing`: reads a price list (OpenRouter's `/api/v1/models` format) at start and then every `refresh_s`,
/// and puts each deployment's price from it over the configured one (its `price_id`, else the entry named like its
/// upstream model). When a read fails — unreachable, an error status, a malformed or oversized list — the last good
/// list stays in force; `/admin/health` (`pricing`) and `/metrics` show its age and the failures. After a
/// configuration reload (`follow(_:)`) it prices the new routing table, at once from the last good list.
public final class PricingService: Service, Sendable {
    /// What the last reads did.
    struct Status: Sendable {
        var updatedAt: Double?
        var lastAttemptAt: Double?
        var lastError: String?
        var failures = 0
        var entries = 0
        var priced = 0
        /// The table priced now (a reload replaces it) and the last good list.
        var table: RoutingTable
        var last: [String: Price]?
    }

    static let maxBytes = 16 << 20

    let source: PricingSource
    let transport: any UpstreamTransport
    let wallClock: @Sendable () -> Double
    let logger: Logger
    private let state: Mutex<Status>
    var table: RoutingTable { state.withLock { $0.table } }

    init?(config: GatewayConfig, table: RoutingTable, transport: any UpstreamTransport, wallClock: @escaping @Sendable () -> Double,
          logger: Logger) {
        guard let source = config.router.pricing, table.prices != nil else { return nil }
        self.source = source
        state = Mutex(Status(table: table))
        self.transport = transport
        self.wallClock = wallClock
        self.logger = logger
    }

    /// Reads the list once; true when it was read and applied.
    @discardableResult
    public func refresh() async -> Bool {
        let now = wallClock()
        state.withLock { $0.lastAttemptAt = now }
        do {
            let prices = try await fetch()
            let table = state.withLock { s in
                s.last = prices
                return s.table
            }
            let priced = Self.apply(prices, to: table)
            state.withLock { s in
                s.updatedAt = now
                s.lastError = nil
                s.entries = prices.count
                // A reload during the read priced its own table from this list already (`follow`).
                if s.table === table { s.priced = priced }
            }
            return true
        } catch {
            let reason = "\(error)"
            state.withLock { s in
                s.lastError = reason
                s.failures += 1
            }
            logger.warning("Pricing source could not be read; the last good prices stay in force", metadata: ["reason": "\(reason)"])
            return false
        }
    }

    /// Puts each deployment's price from `prices` over its configured one; returns how many were priced.
    static func apply(_ prices: [String: Price], to table: RoutingTable) -> Int {
        var applied = [Price?](repeating: nil, count: table.slotDeployments.count)
        for (slot, d) in table.slotDeployments.enumerated() {
            applied[slot] = PriceList.entry(prices, id: d.priceID, upstreamModel: d.model)?.price
        }
        table.prices?.set(applied)
        return applied.compactMap { $0 }.count
    }

    /// Prices a reloaded routing table from now on, at once from the last good list (its deployments that were
    /// priced before already carried their prices over).
    func follow(_ table: RoutingTable) {
        let last = state.withLock { s in
            s.table = table
            return s.last
        }
        guard let last else { return }
        let priced = Self.apply(last, to: table)
        state.withLock { s in if s.table === table { s.priced = priced } }
    }

    struct ReadError: Error, CustomStringConvertible {
        let description: String
    }

    private func fetch() async throws -> [String: Price] {
        let request = UpstreamRequest(method: "GET", url: source.url, headers: source.headers.map { ($0.key, $0.value) },
                                      timeout: .milliseconds(Int64(source.timeoutSeconds * 1000)))
        let response: UpstreamResponse
        do { response = try await transport.execute(request) } catch { throw ReadError(description: "unreachable (\(error.code.rawValue))") }
        let body: ByteBuffer
        do { body = try await response.body.collect(upTo: Self.maxBytes) } catch { throw ReadError(description: "the list could not be read whole (over 16 MiB, or cut off)") }
        guard response.status == 200 else { throw ReadError(description: "HTTP \(response.status)") }
        do { return try PriceList.parse(Data(buffer: body)) } catch { throw ReadError(description: "not a price list: \(error)") }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.refresh()
                try? await Task.sleep(for: .milliseconds(Int64(self.source.refreshSeconds * 1000)))
            }
        }
    }

    /// `/admin/health`'s `pricing`: the source (its URL without credentials), when it was last read, its age, the
    /// last error, and how many deployments it prices.
    func json() -> JSONValue {
        let s = state.withLock { $0 }
        let now = wallClock()
        var o: [String: JSONValue] = [
            "url": .string(ConfigReport.maskURL(source.url)), "refresh_s": .double(source.refreshSeconds),
            "failures": .int(s.failures), "entries": .int(s.entries), "deployments_priced": .int(s.priced),
            "deployments": .int(s.table.slotDeployments.count),
        ]
        o["updated_at"] = s.updatedAt.map { .string(GovernanceSpec.iso($0)) } ?? .null
        o["age_s"] = s.updatedAt.map { .double(((now - $0) * 10).rounded() / 10) } ?? .null
        o["last_error"] = s.lastError.map(JSONValue.string) ?? .null
        return .object(o)
    }

    /// `/metrics`' pricing series: the age of the prices in force (NaN before the first good read) and failed reads.
    var metricsText: String {
        let s = state.withLock { $0 }
        let age = s.updatedAt.map { String(max(0, wallClock() - $0)) } ?? "NaN"
        return """
            # HELP switchboard_pricing_age_seconds Seconds since the pricing source was last read successfully.
            # TYPE switchboard_pricing_age_seconds gauge
            switchboard_pricing_age_seconds \(age)
            # HELP switchboard_pricing_refresh_failures_total Reads of the pricing source that failed.
            # TYPE switchboard_pricing_refresh_failures_total counter
            switchboard_pricing_refresh_failures_total \(s.failures)

            """
    }
}
