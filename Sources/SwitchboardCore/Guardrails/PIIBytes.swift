/// The privacy guardrail's detectors: each one linear scan over UTF-8 bytes that appends what it finds.
enum PIIBytes {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    static func lower(_ c: UInt8) -> UInt8 { c &- 65 < 26 ? c | 0x20 : c }
    static func isDigit(_ c: UInt8) -> Bool { c &- 48 < 10 }
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) &- 97 < 26 }
    static func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || isAlpha(c) }
    static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c | 0x20) &- 97 < 6 }
    /// ASCII letters, digits and `_` make words (a value right next to Chinese or Japanese text, which has no spaces,
    /// is still found).
    static func isWord(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x5F }

    /// True when `i` starts a digit group that continues a longer grouped number (`6544 0893…`: a group of three or
    /// more digits and one separator before it), which is not taken apart into a card or a phone number.
    static func continuesNumber(_ b: Bytes, _ i: Int) -> Bool {
        guard i >= 4, b[i - 1] == 0x20 || b[i - 1] == 0x2D || b[i - 1] == 0x2E else { return false }
        var k = i - 2
        var digits = 0
        while k >= 0, isDigit(b[k]) { digits += 1; k -= 1 }
        return digits >= 3
    }

    /// True when no word continues into `i` from the left.
    static func startsWord(_ b: Bytes, _ i: Int) -> Bool { i == 0 || !isWord(b[i - 1]) }
    /// True when no word continues past `end`.
    static func endsWord(_ b: Bytes, _ end: Int) -> Bool { end >= b.count || !isWord(b[end]) }

    /// Where digit runs start (a digit after a non-digit): the only places a number of any kind can begin, so the
    /// number detectors look only there instead of at every byte.
    static func digitStarts(_ b: Bytes) -> [Int] {
        var starts: [Int] = []
        var previous = false
        for i in 0..<b.count {
            let digit = isDigit(b[i])
            if digit, !previous { starts.append(i) }
            previous = digit
        }
        return starts
    }

    /// The candidate positions from a sorted list, one at a time, never going back.
    struct Candidates {
        let starts: [Int]
        var n = 0
        init(_ starts: [Int]) { self.starts = starts }
        /// The first candidate at or after `i`.
        mutating func next(atLeast i: Int) -> Int? {
            while n < starts.count, starts[n] < i { n += 1 }
            return n < starts.count ? starts[n] : nil
        }
    }

    /// The end of the run of bytes from `start` that satisfy `test`.
    static func run(_ b: Bytes, _ start: Int, _ test: (UInt8) -> Bool) -> Int {
        var i = start
        while i < b.count, test(b[i]) { i += 1 }
        return i
    }

    static func has(_ b: Bytes, _ i: Int, _ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        let p = text.utf8Start
        for k in 0..<n where b[i + k] != p[k] { return false }
        return true
    }

    // MARK: Secrets

    static func secrets(_ b: Bytes, _ out: inout [PIISpan]) {
        var i = 0
        while i < b.count {
            if i == 0 || !isAlnum(b[i - 1]), let found = secret(b, i) {
                out.append(PIISpan(range: found, kind: .secret))
                i = found.upperBound
            } else {
                i += 1
            }
        }
    }

    private static func token(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x5F || c == 0x2D }   // A-Z a-z 0-9 _ -

    private static func secret(_ b: Bytes, _ i: Int) -> Range<Int>? {
        func tail(_ from: Int, min: Int, _ test: (UInt8) -> Bool, needsDigit: Bool = false) -> Range<Int>? {
            let end = run(b, from, test)
            guard end - from >= min else { return nil }
            if needsDigit, !(from..<end).contains(where: { isDigit(b[$0]) }) { return nil }
            return i..<end
        }
        switch b[i] {
        case UInt8(ascii: "s"), UInt8(ascii: "p"), UInt8(ascii: "r"):
            if has(b, i + 1, "k-") { return tail(i + 3, min: 16, token, needsDigit: true) }
            // Stripe's `sk_live_…`, `rk_test_…`, `pk_live_…`.
            if has(b, i + 1, "k_live_") || has(b, i + 1, "k_test_") { return tail(i + 8, min: 16, token) }
            return nil
        case UInt8(ascii: "h"):
            return has(b, i, "hf_") ? tail(i + 3, min: 30, isAlnum) : nil
        case UInt8(ascii: "n"):
            return has(b, i, "npm_") ? tail(i + 4, min: 36, isAlnum) : nil
        case UInt8(ascii: "A"):
            if has(b, i, "AKIA") || has(b, i, "ASIA") { return tail(i + 4, min: 16) { isDigit($0) || $0 &- 65 < 26 } }
            if has(b, i, "AIza") { return tail(i + 4, min: 35, token) }
            return nil
        case UInt8(ascii: "g"):
            if has(b, i, "github_pat_") { return tail(i + 11, min: 22, token) }
            if has(b, i, "glpat-") { return tail(i + 6, min: 20, token) }
            guard has(b, i, "gh"), i + 3 < b.count, "pousr".utf8.contains(b[i + 2]), b[i + 3] == 0x5F else { return nil }
            return tail(i + 4, min: 30, isAlnum)
        case UInt8(ascii: "x"):
            guard has(b, i, "xox"), i + 4 < b.count, "abprs".utf8.contains(b[i + 3]), b[i + 4] == 0x2D else { return nil }
            return tail(i + 5, min: 10) { isAlnum($0) || $0 == 0x2D }
        case UInt8(ascii: "e"):
            guard has(b, i, "eyJ") else { return nil }
            var end = i
            for part in 0..<3 {
                let start = end
                end = run(b, start, token)
                guard end - start >= 8 else { return nil }
                if part < 2 { guard end < b.count, b[end] == 0x2E else { return nil }; end += 1 }
            }
            return i..<end
        case UInt8(ascii: "B"), UInt8(ascii: "b"):
            guard i + 6 < b.count, (0..<6).allSatisfy({ lower(b[i + $0]) == Array("bearer".utf8)[$0] }) else { return nil }
            let start = run(b, i + 6) { $0 == 0x20 || $0 == 0x09 }
            guard start > i + 6, start - (i + 6) <= 8 else { return nil }
            let end = run(b, start) { isAlnum($0) || "._~+/=-".utf8.contains($0) }
            return end - start >= 12 ? start..<end : nil
        case UInt8(ascii: "-"):
            guard has(b, i, "-----BEGIN ") else { return nil }
            let header = run(b, i + 11) { $0 != 0x2D && $0 != 0x0A }
            guard has(b, header, "-----"), String(decoding: UnsafeBufferPointer(rebasing: b[(i + 11)..<header]), as: UTF8.self)
                .hasSuffix("PRIVATE KEY") else { return nil }
            var k = header + 5
            while k < b.count, !has(b, k, "-----END ") { k += 1 }
            guard k < b.count else { return i..<b.count }      // an unterminated key: everything after it
            let close = run(b, k + 9) { $0 != 0x2D && $0 != 0x0A }
            return i..<min(b.count, has(b, close, "-----") ? close + 5 : close)
        default:
            return nil
        }
    }

    // MARK: E-mail addresses

    static func emails(_ b: Bytes, _ out: inout [PIISpan]) {
        var after = 0       // finds never overlap: a local part starts after the previous address
        var at = 0
        while at < b.count {
            guard b[at] == 0x40 else { at += 1; continue }
            var start = at
            while start > after, at - start < 64, isLocal(b[start - 1]) { start -= 1 }
            while start < at, b[start] == 0x2E { start += 1 }
            if start < at, let end = domainEnd(b, at + 1) {
                out.append(PIISpan(range: start..<end, kind: .email))
                after = end
                at = end
            } else {
                at += 1
            }
        }
    }

    private static func isLocal(_ c: UInt8) -> Bool { isAlnum(c) || "._%+-".utf8.contains(c) }

    /// The end of a domain name starting at `start` (two labels or more, the last all letters), or nil.
    static func domainEnd(_ b: Bytes, _ start: Int) -> Int? {
        var ends: [Int] = []
        var i = start
        while ends.count < 10 {
            let end = run(b, i) { isAlnum($0) || $0 == 0x2D }
            guard end > i, end - i <= 63 else { break }
            ends.append(end)
            guard end + 1 < b.count, b[end] == 0x2E, isAlnum(b[end + 1]) else { break }
            i = end + 1
        }
        // The longest name whose last label is a plausible top-level domain.
        while ends.count >= 2 {
            let tld = (ends[ends.count - 2] + 1)..<ends[ends.count - 1]
            if (2...24).contains(tld.count), tld.allSatisfy({ isAlpha(b[$0]) }) { return ends[ends.count - 1] }
            ends.removeLast()
        }
        return nil
    }

    // MARK: Bank accounts (IBAN)

    /// `digits`: where digit runs start (an IBAN starts two letters before one).
    static func ibans(_ b: Bytes, digits: [Int], _ out: inout [PIISpan]) {
        var i = 0
        var compact: [UInt8] = []
        var ends: [(end: Int, length: Int)] = []
        var candidates = Candidates(digits.compactMap { $0 >= 2 ? $0 - 2 : nil })
        while let next = candidates.next(atLeast: i), next + 15 <= b.count {
            i = next
            guard startsWord(b, i), isAlpha(b[i]), isAlpha(b[i + 1]), isDigit(b[i + 2]), isDigit(b[i + 3]) else { i += 1; continue }
            // Groups of letters and digits, one space between them; every group end is a candidate end.
            compact.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            var k = i
            while compact.count <= 34 {
                let end = run(b, k, isAlnum)
                guard end > k else { break }
                compact.append(contentsOf: b[k..<end].map { isAlpha($0) ? $0 & 0xDF : $0 })
                ends.append((end, compact.count))
                guard end + 1 < b.count, b[end] == 0x20, isAlnum(b[end + 1]) else { break }
                k = end + 1
            }
            let country = String(decoding: compact.prefix(2), as: UTF8.self)
            if let length = ibanLengths[country], let found = ends.reversed().first(where: { $0.length == length && endsWord(b, $0.end) && mod97(compact[..<$0.length]) == 1 }) {
                out.append(PIISpan(range: i..<found.end, kind: .iban))
                i = found.end
            } else {
                i += 1
            }
        }
    }

    /// The length of IBANs by country (ISO 13616's registry); a two-letter code not in it is not an IBAN.
    static let ibanLengths: [String: Int] = [
        "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28, "CH": 21,
        "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
        "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
        "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27,
        "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
        "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23,
        "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    ]

    /// ISO 13616's checksum: the first four characters moved to the end, letters as 10–35, the number mod 97.
    static func mod97(_ chars: ArraySlice<UInt8>) -> Int {
        var rest = 0
        for c in chars.dropFirst(4) + chars.prefix(4) {
            if isDigit(c) {
                rest = (rest * 10 + Int(c - 48)) % 97
            } else if c &- 65 < 26 {
                rest = (rest * 100 + Int(c - 55)) % 97
            } else {
                return -1
            }
        }
        return rest
    }

    // MARK: Payment cards

    static func cards(_ b: Bytes, starts: [Int], _ out: inout [PIISpan]) {
        var i = 0
        var digits: [Int] = []
        var ends: [(end: Int, count: Int)] = []
        var candidates = Candidates(starts)
        while let next = candidates.next(atLeast: i) {
            i = next
            guard isDigit(b[i]), i == 0 || !(isAlnum(b[i - 1]) || b[i - 1] == 0x2E || b[i - 1] == 0x2B), !continuesNumber(b, i) else { i += 1; continue }
            digits.removeAll(keepingCapacity: true)
            ends.removeAll(keepingCapacity: true)
            var k = i
            while k < b.count, digits.count <= 23 {
                if isDigit(b[k]) {
                    digits.append(Int(b[k] - 48))
                    k += 1
                } else if (b[k] == 0x20 || b[k] == 0x2D), k + 1 < b.count, isDigit(b[k + 1]) {
                    ends.append((k, digits.count))
                    k += 1
                } else {
                    break
                }
            }
            ends.append((k, digits.count))
            // The whole run, else the longest group-aligned prefix (a card followed by its CVV or expiry date).
            if let found = ends.reversed().first(where: { (13...19).contains($0.count) && endsWord(b, $0.end) && luhn(digits[..<$0.count]) }) {
                out.append(PIISpan(range: i..<found.end, kind: .card))
                i = found.end
            } else {
                i += 1      // the next group may start one (a card after another number)
            }
        }
    }

    static func luhn(_ digits: ArraySlice<Int>) -> Bool {
        var sum = 0
        for (n, d) in digits.reversed().enumerated() {
            let v = n % 2 == 1 ? d * 2 : d
            sum += v > 9 ? v - 9 : v
        }
        return sum % 10 == 0
    }

    // MARK: US social security numbers

    static func ssns(_ b: Bytes, starts: [Int], _ out: inout [PIISpan]) {
        var i = 0
        var candidates = Candidates(starts)
        while let next = candidates.next(atLeast: i), next + 11 <= b.count {
            i = next
            var k = i
            var groups = (0, 0, 0)
            var count = 0
            if isDigit(b[i]), startsWord(b, i), i == 0 || b[i - 1] != 0x2D {
                for (g, width) in [3, 2, 4].enumerated() {
                    let end = run(b, k, isDigit)
                    guard end - k == width else { break }
                    var value = 0
                    for j in k..<end { value = value * 10 + Int(b[j] - 48) }
                    switch g { case 0: groups.0 = value; case 1: groups.1 = value; default: groups.2 = value }
                    count += 1
                    k = end
                    if g < 2 { guard k < b.count, b[k] == 0x2D else { break }; k += 1 }
                }
            }
            if count == 3, endsWord(b, k), !(k + 1 < b.count && b[k] == 0x2D && isDigit(b[k + 1])),
               groups.0 != 0, groups.0 != 666, groups.0 < 900, groups.1 != 0, groups.2 != 0 {
                out.append(PIISpan(range: i..<k, kind: .ssn))
                i = k
            } else {
                i += 1
            }
        }
    }
}
