extension PIIBytes {
    // MARK: IP addresses

    /// `v6`: the text has a colon (else only IPv4 is looked for, where digit runs start: `starts`).
    static func ips(_ b: Bytes, v6: Bool, starts: [Int], _ out: inout [PIISpan]) {
        var i = 0
        var positions = starts
        if v6 {
            // An IPv6 address is a run of hex digits, colons and dots with a colon in it: where each colon's run begins
            // (looking back at most an address's length).
            for c in 0..<b.count where b[c] == 0x3A {
                var k = c
                while k > 0, c - k < 45, isHex(b[k - 1]) || b[k - 1] == 0x3A || b[k - 1] == 0x2E { k -= 1 }
                if positions.last != k { positions.append(k) }
            }
            positions.sort()
        }
        var candidates = Candidates(positions)
        while let next = candidates.next(atLeast: i) {
            i = next
            let c = b[i]
            guard v6 ? isHex(c) || c == 0x3A : isDigit(c), i == 0 || !(isAlnum(b[i - 1]) || b[i - 1] == 0x2E || b[i - 1] == 0x3A) else { i += 1; continue }
            if let end = ipv4(b, i) ?? (v6 ? ipv6(b, i) : nil) {
                out.append(PIISpan(range: i..<end, kind: .ip))
                i = end
            } else {
                i += 1
            }
        }
    }

    /// The end of a dotted quad starting at `i` (each part 0–255), or nil.
    private static func ipv4(_ b: Bytes, _ i: Int) -> Int? {
        var k = i
        for part in 0..<4 {
            let end = run(b, k, isDigit)
            guard (1...3).contains(end - k) else { return nil }
            var value = 0
            for j in k..<end { value = value * 10 + Int(b[j] - 48) }
            guard value <= 255 else { return nil }
            k = end
            if part < 3 { guard k < b.count, b[k] == 0x2E else { return nil }; k += 1 }
        }
        // Not part of a longer number or a version string such as 1.2.3.4.5.
        if k < b.count, isAlnum(b[k]) || (b[k] == 0x2E && k + 1 < b.count && isDigit(b[k + 1])) { return nil }
        return k
    }

    /// The end of an IPv6 address starting at `i` (checked by the system's parser), or nil. At least two groups and
    /// four hex digits: `a::b` in code is not taken for an address.
    private static func ipv6(_ b: Bytes, _ i: Int) -> Int? {
        var end = run(b, i) { isHex($0) || $0 == 0x3A || $0 == 0x2E }
        guard end - i <= 45 else { return nil }
        while end > i, b[end - 1] == 0x2E || (b[end - 1] == 0x3A && !(end - 2 >= i && b[end - 2] == 0x3A)) { end -= 1 }
        guard end < b.count ? !isAlnum(b[end]) : true else { return nil }
        var colons = 0
        var hex = 0
        for k in i..<end { if b[k] == 0x3A { colons += 1 } else if isHex(b[k]) { hex += 1 } }
        guard colons >= 2, hex >= 4 else { return nil }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[i..<end]), as: UTF8.self)
        guard let (_, isV4) = CIDR.address(text), !isV4 else { return nil }
        return end
    }

    // MARK: Telephone numbers

    /// `starts`: where digit runs start (a number begins there, or at a `+` or `(` up to two bytes before).
    static func phones(_ b: Bytes, starts: [Int], _ out: inout [PIISpan]) {
        var i = 0
        var groups: [(digits: Int, end: Int)] = []
        var positions: [Int] = []
        for s in starts {
            for back in [2, 1] where s >= back && (b[s - back] == 0x2B || b[s - back] == 0x28) { positions.append(s - back) }
            positions.append(s)
        }
        var candidates = Candidates(positions)
        while let next = candidates.next(atLeast: i) {
            i = next
            let c = b[i]
            guard c == 0x2B || c == 0x28 || isDigit(c), i == 0 || !(isAlnum(b[i - 1]) || b[i - 1] == 0x2E || b[i - 1] == 0x2B || b[i - 1] == 0x2D),
                  c == 0x2B || !continuesNumber(b, i) else { i += 1; continue }
            if let end = phone(b, i, &groups) {
                out.append(PIISpan(range: i..<end, kind: .phone))
                i = end
            } else {
                i += 1
            }
        }
    }

    /// Digit groups from `i` with one separator (space, dash, dot) or parentheses between them, ending on a digit.
    /// International (`+` then 8–15 digits), or national: the NANP shape 3-3-4, or a trunk `0` and 10–12 digits in
    /// groups of two or more. The longest run of groups that qualifies (a number may be followed by another).
    private static func phone(_ b: Bytes, _ i: Int, _ groups: inout [(digits: Int, end: Int)]) -> Int? {
        let international = b[i] == 0x2B
        var k = international ? i + 1 : i
        groups.removeAll(keepingCapacity: true)
        var current = 0
        var open = false
        var total = 0
        var dotted = false
        while k < b.count, total <= 15 {
            let c = b[k]
            if isDigit(c) {
                current += 1
                total += 1
                k += 1
                continue
            }
            let next = k + 1 < b.count ? b[k + 1] : 0
            if c == 0x28, !open, current == 0 {
                open = true
            } else if c == 0x29, open, current > 0 {
                open = false
                groups.append((current, k))
                current = 0
                if next == 0x20 || next == 0x2D { k += 1 }
            } else if c == 0x20 || c == 0x2D || c == 0x2E, current > 0, isDigit(next) || next == 0x28 {
                groups.append((current, k))
                current = 0
                if c == 0x2E { dotted = true }
            } else {
                break
            }
            k += 1
        }
        if current > 0 { groups.append((current, k)) }
        guard let firstDigit = b[i..<k].first(where: isDigit) else { return nil }
        var digits = groups.reduce(0) { $0 + $1.digits }
        for count in stride(from: groups.count, through: 1, by: -1) {
            defer { digits -= groups[count - 1].digits }
            var end = groups[count - 1].end
            if end < b.count, b[end] == 0x29 { end += 1 }      // a group that closed its parenthesis
            guard endsWord(b, end), !(end + 1 < b.count && b[end] == 0x2E && isDigit(b[end + 1])) else { continue }
            if international {
                if (8...15).contains(digits), firstDigit != 0x30 { return end }
            } else if count == 3, groups[0].digits == 3, groups[1].digits == 3, groups[2].digits == 4 {
                return end
            } else if firstDigit == 0x30, !dotted, count >= 2, (10...12).contains(digits), groups[..<count].allSatisfy({ $0.digits >= 2 }),
                      !(end < b.count && b[end] == 0x3A) {
                return end
            }
        }
        return nil
    }

    // MARK: Names

    /// Whole-word occurrences of `names` (lower-cased ASCII bytes), ASCII case ignored.
    static func names(_ b: Bytes, _ names: [[UInt8]], byFirst: [[Int]], _ out: inout [PIISpan]) {
        guard !names.isEmpty else { return }
        var i = 0
        while i < b.count {
            guard startsWord(b, i), !byFirst[Int(lower(b[i]))].isEmpty else { i += 1; continue }
            let candidates = byFirst[Int(lower(b[i]))]
            var best = 0
            for n in candidates {
                let name = names[n]
                guard name.count > best, i + name.count <= b.count, endsWord(b, i + name.count) else { continue }
                if (0..<name.count).allSatisfy({ lower(b[i + $0]) == name[$0] }) { best = name.count }
            }
            if best > 0 {
                out.append(PIISpan(range: i..<(i + best), kind: .name))
                i += best
            } else {
                i += 1
            }
        }
    }
}
