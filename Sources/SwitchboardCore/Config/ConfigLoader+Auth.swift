// ConfigLoader: the `auth:` section (master key, static client keys, encryption key, budget webhook, key cache).
import Foundation
import Yams

extension Walker {
    mutating func authConfig(_ node: Node) -> AuthConfig {
        var auth = AuthConfig()
        guard let m = mapping(node, "auth", allowed: ["master_key", "keys", "budget_alert_webhook", "key_cache_s", "encryption_key"]) else { return auth }
        if let text = secret(m, "encryption_key", "auth") {
            if let bytes = Data(base64Encoded: text), bytes.count == 32 {
                auth.encryptionKey = Array(bytes)
            } else if text.utf8.count == 64, let bytes = hexBytes(text) {
                auth.encryptionKey = bytes
            } else {
                problem("auth.encryption_key", "expected 32 bytes as base64 (openssl rand -base64 32) or 64 hex digits")
            }
        }
        auth.masterKey = secret(m, "master_key", "auth")
        if let master = auth.masterKey, master.utf8.count < AuthConfig.minimumMasterKeyLength {
            problem("auth.master_key", "too short: at least \(AuthConfig.minimumMasterKeyLength) characters (it unlocks everything)")
        }
        if let url = string(m, "budget_alert_webhook", "auth") {
            if url.hasPrefix("http://") || url.hasPrefix("https://") { auth.budgetAlertWebhook = url } else {
                problem("auth.budget_alert_webhook", "expected an http:// or https:// URL, found \"\(url)\"")
            }
        }
        if let v = number(m, "key_cache_s", "auth", range: 0...3600) { auth.keyCacheSeconds = v }
        if let node = m["keys"], let list = sequence(node, "auth.keys") {
            var names: [String: Int] = [:]
            var texts: [String: Int] = [:]
            for (i, item) in list.enumerated() {
                let path = "auth.keys[\(i)]"
                guard let k = mapping(item, path, allowed: ["name", "key", "models", "limits"]) else { continue }
                let name = string(k, "name", path, required: true)
                let key = secret(k, "key", path)
                if k["key"] == nil { problem("\(path).key", "required") }
                var models: [String] = []
                if let node = k["models"], let list = sequence(node, "\(path).models") {
                    for (j, item) in list.enumerated() {
                        if case .scalar(let s) = item, !s.string.isEmpty { models.append(s.string) } else {
                            problem("\(path).models[\(j)]", "expected a model name or glob, found \(describe(item))")
                        }
                    }
                }
                // The same limits as a managed key's, checked with the same rules and key paths.
                var limits = Limits()
                if let node = k["limits"], !isNull(node) { limits = self.limits(node, "\(path).limits") ?? Limits() }
                if let name {
                    if let first = names[name] { problem("\(path).name", "duplicate key name \"\(name)\" (also auth.keys[\(first)])") }
                    names[name] = i
                }
                if let key {
                    // One key text, one identity: a duplicate would be resolved to whichever came first.
                    if let first = texts[key] { problem("\(path).key", "the same key as auth.keys[\(first)]") }
                    if key == auth.masterKey { problem("\(path).key", "the same key as auth.master_key") }
                    texts[key] = i
                }
                if let name, let key { auth.keys.append(StaticKey(name: name, key: key, models: models, limits: limits)) }
            }
        }
        return auth
    }
}

/// The bytes of an even-length hex string, or nil.
func hexBytes(_ s: String) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(u.count / 2)
    for i in stride(from: 0, to: u.count, by: 2) {
        guard let b = UInt8(String(decoding: u[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
        out.append(b)
    }
    return out
}
