/// Server-sent-event framing: where events end, and their `event:` and `data:` fields.
public enum SSEFraming {
    /// End offsets (exclusive, blank line included) of the complete events in `bytes`, searching from `start`.
    /// Events end with "\n\n" or "\r\n\r\n".
    public static func eventEnds(in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> [Int] {
        var ends: [Int] = []
        var i = start
        let n = bytes.count
        while i < n {
            if bytes[i] == 0x0A {
                if i + 1 < n, bytes[i + 1] == 0x0A { ends.append(i + 2); i += 2; continue }
                if i + 2 < n, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { ends.append(i + 3); i += 3; continue }
            }
            i += 1
        }
        return ends
    }

    /// The ranges of the first `event:` value and the first `data:` value of one event (a leading space trimmed).
    public static func fields(of event: UnsafeRawBufferPointer) -> (event: Range<Int>?, data: Range<Int>?) {
        var name: Range<Int>?
        var data: Range<Int>?
        var lineStart = 0
        let n = event.count
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n, event[lineEnd] != 0x0A { lineEnd += 1 }
            var contentEnd = lineEnd
            if contentEnd > lineStart, event[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            if data == nil, let r = value(event, lineStart..<contentEnd, field: "data:") { data = r }
            if name == nil, let r = value(event, lineStart..<contentEnd, field: "event:") { name = r }
            lineStart = lineEnd + 1
        }
        return (name, data)
    }

    private static func value(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, field: StaticString) -> Range<Int>? {
        let m = field.utf8CodeUnitCount
        guard line.count >= m else { return nil }
        let p = field.utf8Start
        for k in 0..<m where bytes[line.lowerBound + k] != p[k] { return nil }
        var s = line.lowerBound + m
        if s < line.upperBound, bytes[s] == 0x20 { s += 1 }
        return s..<line.upperBound
    }
}
