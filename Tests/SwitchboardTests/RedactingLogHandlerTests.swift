import Logging
import Testing
@testable import SwitchboardServer

/// The span exporter's diagnostics go through `RedactingLogHandler`: the metadata that shows configuration values is dropped,
/// the rest of the record reaches the base handler unchanged.
@Suite struct RedactingLogHandlerTests {
    @Test func dropsConfigurationValuesAndKeepsTheRest() throws {
        let capture = CapturingLogHandler()
        let logger = Logger(label: "otel") { _ in RedactingLogHandler(base: capture) }
        logger.warning("Merged exporter headers", metadata: [
            "headers": "authorization=Bearer sk-secret", "value": "sk-secret", "new_value": "sk-secret",
            "environment_value": "sk-secret", "previous_value": "sk-secret", "carrier": "sk-secret",
            "key": "OTEL_EXPORTER_OTLP_HEADERS",
        ])
        let line = try #require(capture.lines.withLock { $0 }.first)
        #expect(line.message == "Merged exporter headers")
        #expect(line.metadata == ["key": "OTEL_EXPORTER_OTLP_HEADERS"])
    }
}
