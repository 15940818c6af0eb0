// ConfigLoader: reading a configuration file from disk, with the system's reason when it cannot be read.
import Foundation

/// A configuration file that could not be read: `cannot read config file "gw.yaml": No such file or directory`.
public struct ConfigFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    /// The system's words for what went wrong (`strerror`), or why the file was refused.
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "cannot read config file \"\(path)\": \(reason)" }
}

extension ConfigLoader {
    /// The largest configuration file read (a YAML file is kilobytes; this stops `--config /dev/zero`).
    public static let maxFileBytes = 16 << 20

    /// The text of the file at `path` (invalid UTF-8 replaced), or why it cannot be read: missing, not permitted, a
    /// directory, or larger than `maxFileBytes`.
    public static func readFile(_ path: String) throws(ConfigFileError) -> String {
        func failure(_ code: Int32) -> ConfigFileError { ConfigFileError(path: path, reason: String(cString: strerror(code))) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw failure(errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            bytes.append(contentsOf: chunk[..<n])
            if bytes.count > maxFileBytes {
                throw ConfigFileError(path: path, reason: "too large (over \(maxFileBytes >> 20) MiB)")
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
