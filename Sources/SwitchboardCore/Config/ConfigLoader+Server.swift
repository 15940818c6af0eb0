// ConfigLoader: the `server:` section (listen address, limits, queueing, TLS, timeouts).
import Foundation
import Yams

extension Walker {
    mutating func serverConfig(_ node: Node) -> ServerConfig {
        var server = ServerConfig()
        guard let m = mapping(node, "server", allowed: ["listen", "max_body_bytes", "event_loop_threads", "shutdown_grace_s", "max_in_flight",
                                                        "queue_depth", "queue_timeout_s", "tls", "max_connections", "request_timeout_s"]) else {
            return server
        }
        if let v = int(m, "max_in_flight", "server", range: 0...1_000_000) { server.maxInFlight = v }
        if let v = int(m, "queue_depth", "server", range: 0...1_000_000) { server.queueDepth = v }
        if let v = number(m, "queue_timeout_s", "server", range: 0.001...3600) { server.queueTimeoutSeconds = v }
        if let node = m["tls"], let t = mapping(node, "server.tls", allowed: ["cert_file", "key_file", "client_ca_file"]) {
            let cert = string(t, "cert_file", "server.tls", required: true)
            let key = string(t, "key_file", "server.tls", required: true)
            let ca = string(t, "client_ca_file", "server.tls")
            for (name, path) in [("cert_file", cert), ("key_file", key), ("client_ca_file", ca)] {
                if let path, !FileManager.default.isReadableFile(atPath: path) { problem("server.tls.\(name)", "cannot read the file \"\(path)\"") }
            }
            if let cert, let key { server.tls = TLSConfig(certFile: cert, keyFile: key, clientCAFile: ca) }
        }
        if let listen = string(m, "listen", "server") {
            if let (host, port) = parseListen(listen) {
                server.host = host
                server.port = port
            } else {
                problem("server.listen", "expected \"HOST:PORT\" (port 0–65535), found \"\(listen)\"")
            }
        }
        if let v = int(m, "max_body_bytes", "server", range: 1...(1 << 30)) { server.maxBodyBytes = v }
        if let v = int(m, "event_loop_threads", "server", range: 0...256) { server.eventLoopThreads = v }
        if let v = number(m, "shutdown_grace_s", "server", range: 0...3600) { server.shutdownGraceSeconds = v }
        if let v = int(m, "max_connections", "server", range: 1...1_000_000) { server.maxConnections = v }
        if let v = number(m, "request_timeout_s", "server", range: 0.001...3600) { server.requestTimeoutSeconds = v }
        return server
    }
}

/// Parses "HOST:PORT" (IPv6 as "[::1]:8080").
public func parseListen(_ s: String) -> (host: String, port: Int)? {
    guard let colon = s.lastIndex(of: ":") else { return nil }
    var host = String(s[..<colon])
    guard let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty else { return nil }
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
}
