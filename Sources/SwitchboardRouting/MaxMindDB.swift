import Foundation
import SwitchboardCore

/// A reader of MaxMind DB files (`.mmdb`: GeoLite2/GeoIP2 Country or City, DB-IP's lite databases and any other in
/// that format), for the client's region from its IP address. The whole file is read into memory once; a lookup
/// walks the search tree bit by bit and decodes the record it ends on. A file that is not a well-formed database is
/// refused when it is opened; a lookup never reads outside the file.
public struct MaxMindDB: Sendable {
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    let bytes: [UInt8]
    let nodeCount: Int
    let recordSize: Int
    let ipVersion: Int
    let dataStart: Int
    /// The node an IPv4 address starts from in an IPv6 tree (after 96 zero bits).
    let ipv4Start: Int
    public let databaseType: String

    static let metadataMarker: [UInt8] = [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Invalid(description: "cannot read \(path)") }
        try self.init(bytes: [UInt8](data))
    }

    public init(bytes: [UInt8]) throws(Invalid) {
        // The metadata follows the last marker, within the file's last 128 KiB.
        let marker = Self.metadataMarker
        var found: Int?
        var i = bytes.count - marker.count
        let floor = max(0, bytes.count - 128 * 1024)
        while i >= floor {
            if bytes[i] == marker[0], Array(bytes[i..<(i + marker.count)]) == marker { found = i + marker.count; break }
            i -= 1
        }
        guard let metaStart = found else { throw Invalid(description: "no MaxMind DB metadata (not a .mmdb file)") }
        var decoder = Decoder(bytes: bytes, base: metaStart, end: bytes.count)
        guard let meta = try? decoder.value(at: metaStart, depth: 0).value.object,
              let nodes = meta["node_count"]?.int, let record = meta["record_size"]?.int, let version = meta["ip_version"]?.int else {
            throw Invalid(description: "the metadata lacks node_count, record_size or ip_version")
        }
        guard [24, 28, 32].contains(record), version == 4 || version == 6, nodes > 0 else {
            throw Invalid(description: "unsupported record_size \(record) or ip_version \(version)")
        }
        let treeSize = nodes * record / 4
        guard treeSize + 16 <= metaStart - marker.count else { throw Invalid(description: "the search tree is larger than the file") }
        self.bytes = bytes
        nodeCount = nodes
        recordSize = record
        ipVersion = version
        dataStart = treeSize + 16
        databaseType = meta["database_type"]?.string ?? ""
        var node = 0
        if version == 6 {
            for _ in 0..<96 where node < nodes { node = Self.record(bytes, node: node, bit: 0, size: record) }
        }
        ipv4Start = node
    }

    /// Record `bit` (0: left, 1: right) of `node`.
    static func record(_ b: [UInt8], node: Int, bit: Int, size: Int) -> Int {
        let o = node * size / 4
        switch size {
        case 24:
            let p = o + bit * 3
            return Int(b[p]) << 16 | Int(b[p + 1]) << 8 | Int(b[p + 2])
        case 28:
            let middle = Int(b[o + 3])
            return bit == 0
                ? (middle >> 4) << 24 | Int(b[o]) << 16 | Int(b[o + 1]) << 8 | Int(b[o + 2])
                : (middle & 0x0F) << 24 | Int(b[o + 4]) << 16 | Int(b[o + 5]) << 8 | Int(b[o + 6])
        default:
            let p = o + bit * 4
            return Int(b[p]) << 24 | Int(b[p + 1]) << 16 | Int(b[p + 2]) << 8 | Int(b[p + 3])
        }
    }

    /// The record for an IPv4 or IPv6 address written as text (nil: not an address, or not in the database).
    public func lookup(_ address: String) -> JSONValue? {
        guard let (ip, isV4) = CIDR.address(address) else { return nil }
        if ipVersion == 4 && !isV4 { return nil }
        var node = isV4 && ipVersion == 6 ? ipv4Start : 0
        let bits = isV4 ? 32 : 128
        let start = isV4 ? 12 : 0
        var depth = 0
        while node < nodeCount && depth < bits {
            let byte = ip[start + depth / 8]
            let bit = Int(byte >> (7 - UInt8(depth % 8))) & 1
            node = Self.record(bytes, node: node, bit: bit, size: recordSize)
            depth += 1
        }
        guard node > nodeCount else { return nil }       // == nodeCount: not found
        let offset = dataStart + (node - nodeCount - 16)
        guard offset >= dataStart, offset < bytes.count else { return nil }
        var decoder = Decoder(bytes: bytes, base: dataStart, end: bytes.count)
        return try? decoder.value(at: offset, depth: 0).value
    }

    /// The data section's encoding: a control byte (type and size), then the value; maps and arrays nest, pointers
    /// refer back into the data section.
    struct Decoder {
        let bytes: [UInt8]
        /// Where pointers count from (the data section's start).
        let base: Int
        let end: Int

        struct Failure: Error {}

        mutating func value(at start: Int, depth: Int) throws(Failure) -> (value: JSONValue, next: Int) {
            guard depth < 32, start < end else { throw Failure() }
            var p = start
            let control = bytes[p]
            p += 1
            var type = Int(control >> 5)
            if type == 1 {
                // A pointer: its size bits say how many bytes follow.
                let size = Int(control >> 3) & 0x3, v = Int(control & 0x7)
                guard p + size + 1 <= end else { throw Failure() }
                var target: Int
                switch size {
                case 0: target = v << 8 | Int(bytes[p])
                case 1: target = (v << 16 | Int(bytes[p]) << 8 | Int(bytes[p + 1])) + 2048
                case 2: target = (v << 24 | Int(bytes[p]) << 16 | Int(bytes[p + 1]) << 8 | Int(bytes[p + 2])) + 526_336
                default: target = Int(bytes[p]) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
                }
                let (value, _) = try self.value(at: base + target, depth: depth + 1)
                return (value, p + size + 1)
            }
            if type == 0 {
                guard p < end else { throw Failure() }
                type = 7 + Int(bytes[p])
                p += 1
            }
            var size = Int(control & 0x1F)
            if size >= 29 {
                let extra = size - 28
                guard p + extra <= end else { throw Failure() }
                var n = 0
                for k in 0..<extra { n = n << 8 | Int(bytes[p + k]) }
                size = [29, 285, 65_821][extra - 1] + n
                p += extra
            }
            switch type {
            case 2:     // UTF-8 string
                guard p + size <= end else { throw Failure() }
                return (.string(String(decoding: bytes[p..<(p + size)], as: UTF8.self)), p + size)
            case 3:     // double
                guard size == 8, p + 8 <= end else { throw Failure() }
                let bits = bytes[p..<(p + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                return (.double(Double(bitPattern: bits)), p + 8)
            case 4:     // bytes
                guard p + size <= end else { throw Failure() }
                return (.null, p + size)
            case 5, 6, 8, 9, 10:    // uint16, uint32, int32, uint64, uint128 (null when it does not fit an Int)
                guard size <= 16, p + size <= end else { throw Failure() }
                guard size <= 8 else { return (.null, p + size) }
                let n = bytes[p..<(p + size)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                if type == 8, size == 4 { return (.int(Int(Int32(bitPattern: UInt32(truncatingIfNeeded: n)))), p + size) }
                return (n <= UInt64(Int.max) ? .int(Int(n)) : .null, p + size)
            case 7:     // map
                var map: [String: JSONValue] = [:]
                for _ in 0..<size {
                    let (key, afterKey) = try value(at: p, depth: depth + 1)
                    let (v, afterValue) = try value(at: afterKey, depth: depth + 1)
                    guard let k = key.string else { throw Failure() }
                    map[k] = v
                    p = afterValue
                }
                return (.object(map), p)
            case 11:    // array
                var items: [JSONValue] = []
                for _ in 0..<size {
                    let (v, after) = try value(at: p, depth: depth + 1)
                    items.append(v)
                    p = after
                }
                return (.array(items), p)
            case 14:    // boolean (the size is the value)
                return (.bool(size != 0), p)
            case 15:    // float
                guard size == 4, p + 4 <= end else { throw Failure() }
                let bits = bytes[p..<(p + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                return (.double(Double(Float(bitPattern: bits))), p + 4)
            default:
                throw Failure()
            }
        }
    }
}
