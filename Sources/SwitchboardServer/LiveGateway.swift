import Synchronization

/// The request engine serving new requests now. A configuration reload builds a new `Gateway` and swaps it in
/// whole: a request takes the current one when it starts and keeps it to its last byte, so in-flight requests and
/// streams finish on the engine they began on.
final class LiveGateway: Sendable {
    private let current: Mutex<Gateway>

    init(_ gateway: Gateway) { current = Mutex(gateway) }

    /// The engine for a request that starts now.
    var gateway: Gateway { current.withLock { $0 } }

    /// Puts `next` in place for new requests; returns the one it replaces.
    @discardableResult
    func replace(with next: Gateway) -> Gateway {
        current.withLock { old in
            defer { old = next }
            return old
        }
    }
}
