import Foundation
import Logging
import SwitchboardCore

/// `logging.format: json`: one JSON object per line on standard error — `ts`, `level`, `label`, `message`, then the
/// metadata (the request id among it); messages are constant, data lives in the metadata.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        var o: [String: JSONValue] = ["ts": .string(Self.timestamp()), "level": .string(event.level.rawValue),
                                      "label": .string(label), "message": .string(event.message.description)]
        for (k, v) in all where o[k] == nil { o[k] = Self.json(v) }
        write(JSONValue.object(o).jsonText)
    }

    static func json(_ v: Logger.Metadata.Value) -> JSONValue {
        switch v {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(json))
        case .dictionary(let d): .object(d.mapValues(json))
        }
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }
}
