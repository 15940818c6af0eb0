import Logging

/// Keeps a logger's own metadata until something is logged, then hands it to `base` with the line's.
///
/// swift-log's `StreamLogHandler` renders its metadata into text whenever it is set; the gateway sets the request id
/// on every request's logger, and most requests log nothing, so that rendering was ~4% of a proxied request's CPU.
/// The lines come out the same: `base` merges the metadata given here with its provider's and sorts the keys.
public struct DeferredMetadataLogHandler: LogHandler {
    public var base: any LogHandler
    public var metadata: Logger.Metadata = [:]

    public init(base: any LogHandler) { self.base = base }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { base.metadataProvider }
        set { base.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard !metadata.isEmpty else { return base.log(event: event) }
        var merged = event
        merged.metadata = metadata.merging(event.metadata ?? [:]) { _, line in line }
        base.log(event: merged)
    }
}
