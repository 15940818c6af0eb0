import NIOCore

/// The texts of a request body the privacy guardrail reads and masks: every string under the API's text members
/// (`messages`, `system`, `input`) except structural ones (roles, types, ids, image URLs and base64 data).
public enum PIIBody {
    /// Members whose strings are never texts a person wrote.
    public static let structural: Set<String> = ["role", "type", "id", "tool_call_id", "tool_use_id", "url", "image_url", "detail",
                                          "media_type", "data", "cache_control", "format", "mime_type", "signature", "file_id"]

    /// `body` with the texts under `roots` masked by `masker`; nil when it found nothing (for `block`, `masker.found`
    /// then says what it found). `body` must be valid JSON (it was checked when the request was parsed).
    public static func mask(_ body: ByteBuffer, roots: Set<String>, _ masker: inout PIIMasker) -> ByteBuffer? {
        var edits: [(range: Range<Int>, replacement: String)] = []
        body.withUnsafeReadableBytes { bytes in
            try? JSONPeek.forEachString(bytes, enter: { path in
                guard let root = path.first?.key, roots.contains(root) else { return false }
                if let key = path.last?.key, path.count > 1, structural.contains(key) { return false }
                return true
            }) { _, range in
                guard let text = JSONPeek.string(bytes, JSONPeek.Value(range: range, kind: .string)),
                      let masked = masker.mask(text) else { return }
                edits.append((range, JSONString.quote(masked)))
            }
        }
        return edits.isEmpty ? nil : JSONPeek.splice(body, edits)
    }
}
