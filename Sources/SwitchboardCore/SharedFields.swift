/// The storage of a value whose fields its copies share until one of them changes (copy on write), for values copied
/// often and changed seldom (`RequestRecord`, the server's `Identity`): a copy is one reference-count operation instead
/// of one for each of its strings and lists.
public final class SharedFields<Fields: Equatable & Sendable>: @unchecked Sendable {
    /// Changed only by the one value that holds it (after `unique`): never while another thread reads it, so sendable
    /// as `Fields` is.
    public var fields: Fields

    public init(_ fields: Fields) { self.fields = fields }

    /// Before a change: fields of the caller's own, when they are shared.
    @inlinable public static func unique(_ box: inout SharedFields) {
        if !isKnownUniquelyReferenced(&box) { box = SharedFields(box.fields) }
    }

    /// Whether two values' fields are equal (the same storage, or equal fields).
    @inlinable public static func equal(_ a: SharedFields, _ b: SharedFields) -> Bool { a === b || a.fields == b.fields }
}
