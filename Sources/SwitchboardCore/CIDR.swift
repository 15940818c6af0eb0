#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`) or a single address, IPv4 or IPv6. IPv4 is kept mapped into IPv6
/// (`::ffff:a.b.c.d`), so an IPv4 client seen on a dual-stack socket matches an IPv4 network.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    let prefix: Int
    public let description: String

    /// Nil when `text` is not an address or network.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let address = parts.first, let (bytes, isV4) = Self.address(String(address)) else { return nil }
        let maxPrefix = isV4 ? 32 : 128
        var prefix = maxPrefix
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...maxPrefix).contains(p) else { return nil }
            prefix = p
        }
        self.bytes = bytes
        self.prefix = prefix + (isV4 ? 96 : 0)
        description = text
    }

    /// Whether the address (as text) is in this network.
    public func contains(_ address: String) -> Bool {
        guard let (other, _) = Self.address(address) else { return false }
        return contains(bytes: other)
    }

    func contains(bytes other: [UInt8]) -> Bool {
        var left = prefix
        var i = 0
        while left >= 8 {
            if bytes[i] != other[i] { return false }
            left -= 8
            i += 1
        }
        guard left > 0 else { return true }
        let mask = UInt8(0xFF) << (8 - UInt8(left))
        return bytes[i] & mask == other[i] & mask
    }

    /// An address's 16 bytes (IPv4 mapped into IPv6), and whether it was IPv4.
    public static func address(_ text: String) -> ([UInt8], Bool)? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return ([UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + withUnsafeBytes(of: v4.s_addr) { Array($0) }, true)
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return (withUnsafeBytes(of: v6) { Array($0) }, false) }
        return nil
    }
}

extension Array where Element == CIDR {
    /// Whether any of the networks holds the address.
    public func contains(address: String) -> Bool {
        guard let (bytes, _) = CIDR.address(address) else { return false }
        return contains { $0.contains(bytes: bytes) }
    }
}
