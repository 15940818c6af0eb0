// ConfigLoader: the `storage:` section (memory, sqlite:PATH or a postgres:// URL).
import Foundation
import Yams

extension Walker {
    mutating func storageLocation(_ node: Node) -> StorageLocation {
        guard case .scalar(let s) = node else {
            problem("storage", "expected \"memory\", \"sqlite:PATH\" or \"postgres://USER@HOST:PORT/DATABASE\", found \(describe(node))")
            return .memory
        }
        guard let value = resolve(s.string, "storage") else { return .memory }
        if value == "memory" { return .memory }
        if value.hasPrefix("sqlite:") {
            let path = String(value.dropFirst("sqlite:".count))
            if path.isEmpty { problem("storage", "\"sqlite:\" needs a file path, as in sqlite:switchboard.db") }
            return .sqlite(path: path)
        }
        if value.hasPrefix("postgres://") || value.hasPrefix("postgresql://") {
            guard let c = URLComponents(string: value), let host = c.host, !host.isEmpty, c.path.count > 1 else {
                problem("storage", "expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
                return .memory
            }
            return .postgres(url: value)
        }
        problem("storage", "expected \"memory\", \"sqlite:PATH\" or \"postgres://USER@HOST:PORT/DATABASE\", found \"\(value)\"")
        return .memory
    }
}
