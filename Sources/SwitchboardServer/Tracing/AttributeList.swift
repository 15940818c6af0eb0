#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
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

    /// Puts the list in order (`ordered`) in place: a span's own list is sorted where it is, not copied first.
    mutating func order() {
        guard items.count > 1 else { return }
        // Swift's sort is stable: of a key set twice, the last set stays the last of its run.
        items.sort { Self.precedes($0.key, $1.key) }
        var i = 1
        while i < items.count {
            if items[i].key == items[i - 1].key { items.remove(at: i - 1) } else { i += 1 }
        }
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
