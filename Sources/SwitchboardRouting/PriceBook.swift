import SwitchboardCore
import Synchronization

/// Prices from a pricing source, per deployment slot, over the configured ones: a deployment's `price` reads its
/// slot here first. Written when the source is refreshed; read on every attempt (one uncontended lock).
public final class PriceBook: Sendable {
    private let overrides: Mutex<[Price?]>

    public init(slots: Int) { overrides = Mutex([Price?](repeating: nil, count: slots)) }

    public func price(_ slot: Int) -> Price? { overrides.withLock { slot < $0.count ? $0[slot] : nil } }

    /// Replaces every slot's price from the source at once (nil: the configured price).
    public func set(_ prices: [Price?]) {
        overrides.withLock { current in
            for i in current.indices { current[i] = i < prices.count ? prices[i] : nil }
        }
    }
}
