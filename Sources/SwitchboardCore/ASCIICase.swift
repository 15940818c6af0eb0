extension String {
    /// Whether this is `lowercased` (lower-case ASCII) with any of its ASCII letters in either case, compared byte by
    /// byte without a lowercased copy: for header names on the request path.
    public func equalsASCIICaseInsensitively(_ lowercased: String) -> Bool {
        utf8.count == lowercased.utf8.count
            && zip(utf8, lowercased.utf8).allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0) == $1 }
    }
}
