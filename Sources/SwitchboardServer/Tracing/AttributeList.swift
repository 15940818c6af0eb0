#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Synchronization
import Tracing

/// A span's attributes as the gateway's own spans keep them: a small array, appended to while the span records and
/// put in key order (byte order of the UTF-8 keys, OpenTelemetry's export order here) once, when it ends.
///
/// `SpanAttributes` is a dictionary set through an existential (`SpanAttributeConvertible`): every attribute costs a
/// box, a hash and, when it grows, a rehash, and the export walks and sorts it again. With a recording span per
/// request and per attempt (about 25 attributes), that was the larger part of what tracing costs; here setting one
/// is an append, and the exporter reads the ordered list as it is.
struct AttributeList: Sendable, Equatable {
    /// In the order set; a key set twice is there twice (the later wins) until `ordered`.
    private(set) var items: [(key: String, value: SpanAttribute)] = []

    init() {}

    /// Room for `capacity` attributes before the array grows (a request span ends with about 20).
    init(capacity: Int) { items.reserveCapacity(capacity) }

    /// The attributes of a `SpanAttributes` (for spans set through the `Span` protocol's `attributes`), in key order.
    init(_ attributes: SpanAttributes) {
        items.reserveCapacity(attributes.count)
        attributes.forEach { key, value in items.append((key, value)) }
        self = ordered
    }

    var isEmpty: Bool { items.isEmpty }

    /// The value of `key` (the last one set); setting a value adds it, setting nil removes the key.
    subscript(key: String) -> SpanAttribute? {
        get { items.last { $0.key == key }?.value }
        set {
            if let newValue { items.append((key, newValue)) } else { items.removeAll { $0.key == key } }
        }
    }

    /// One entry per key, the last value set, in key order: what a finished span keeps and the exporters write.
    var ordered: AttributeList {
        var out = self
        out.order()
        return out
    }

    /// Puts the list in order (`ordered`): a span's own list, as it ends.
    ///
    /// The gateway sets the same literal keys in the same order span after span, so the order a list of keys comes
    /// to is remembered (`KeyOrders`): a list whose keys are those of one seen before is rearranged as that one was,
    /// without comparing keys (sorting ~20 keys by their bytes cost ~1.8 µs a span).
    mutating func order() {
        guard items.count > 1 else { return }
        let keep = KeyOrders.shared.keep(for: items) ?? KeyOrders.shared.remember(items)
        items = keep.map { items[$0] }
    }

    /// Which of `items` an ordered list keeps, in its order: a stable sort by the keys' bytes, then the last of each
    /// run of equal keys (of a key set twice, the last set).
    static func keptInOrder(_ items: [(key: String, value: SpanAttribute)]) -> [Int] {
        var tagged = Array(items.indices)
        tagged.sort { precedes(items[$0].key, items[$1].key) }   // Swift's sort is stable
        var i = 1
        while i < tagged.count {
            if items[tagged[i]].key == items[tagged[i - 1]].key { tagged.remove(at: i - 1) } else { i += 1 }
        }
        return tagged
    }

    /// As a `SpanAttributes` (what `Span.attributes` returns).
    var spanAttributes: SpanAttributes {
        var out = SpanAttributes()
        for (key, value) in items { out[key] = value }
        return out
    }

    /// Byte order of two keys' UTF-8 (memcmp on the contiguous bytes the keys, literals mostly, already have).
    static func precedes(_ a: String, _ b: String) -> Bool {
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c != 0 ? c < 0 : x.count < y.count
            }
        }
        return (fast ?? nil) ?? a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    static func == (a: Self, b: Self) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// The orders of the key lists `AttributeList.order` has seen (a few: the gateway's spans are of few kinds). A list
/// matches one seen before when its keys are the same strings in the same places, bit for bit (the same literal, or
/// the same small string): a key that is equal but stored elsewhere is no match, and the list is sorted.
final class KeyOrders: Sendable {
    static let shared = KeyOrders()
    /// At most this many remembered; a new one replaces the oldest.
    static let capacity = 16

    private struct Entry {
        var keys: [String]
        var keep: [Int]
    }
    private let entries = Mutex<(list: [Entry], next: Int)>(([], 0))

    func keep(for items: [(key: String, value: SpanAttribute)]) -> [Int]? {
        entries.withLock { state in
            for entry in state.list where entry.keys.count == items.count {
                var same = true
                for i in items.indices where !Self.identical(entry.keys[i], items[i].key) { same = false; break }
                if same { return entry.keep }
            }
            return nil
        }
    }

    /// Sorts `items`' keys and remembers their order.
    func remember(_ items: [(key: String, value: SpanAttribute)]) -> [Int] {
        let keep = AttributeList.keptInOrder(items)
        let entry = Entry(keys: items.map(\.key), keep: keep)
        entries.withLock { state in
            if state.list.count < Self.capacity { state.list.append(entry) } else { state.list[state.next] = entry }
            state.next = (state.next + 1) % Self.capacity
        }
        return keep
    }

    /// The same string representation: the same small string, or the same storage (a literal's) and length.
    static func identical(_ a: String, _ b: String) -> Bool {
        withUnsafeBytes(of: a) { x in withUnsafeBytes(of: b) { y in x.elementsEqual(y) } }
    }
}
