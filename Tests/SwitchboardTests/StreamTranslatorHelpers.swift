import NIOCore
@testable import SwitchboardProviders

/// Feeds `text` to a stream translator split at `cuts` (byte offsets), then finishes it; returns all it produced.
func translate<T: StreamTranslator>(_ translator: T, _ text: String, cuts: [Int]) -> String {
    var t = translator
    let bytes = Array(text.utf8)
    var out = ""
    var start = 0
    for cut in cuts + [bytes.count] where cut >= start {
        if let o = t.feed(ByteBuffer(bytes: bytes[start..<cut])) { out += String(buffer: o) }
        start = cut
    }
    if let o = t.finish() { out += String(buffer: o) }
    return out
}
