import NIOCore
import SwitchboardCore

/// Response stage: keeps the answer as the client gets it — the first `logging.bodies.max_bytes` (and a margin the
/// log writer redacts and cuts) of a whole answer or of a stream's chunks and its ending — for the request log.
/// On with `logging.bodies.enabled`; last in order, so it sees what the other stages made of the answer. (The
/// request's body is kept when the request is identified, so refused requests have theirs too.)
struct BodyCaptureStage: ResponseStage {
    func start<API: ClientAPI>(_ call: Call<API>, _ exchange: Exchange) -> (any ResponseFilter)? {
        exchange.bodyLimit == nil ? nil : Capture()
    }

    struct Capture: ResponseFilter {
        func answer(_ body: inout ByteBuffer, _ exchange: inout Exchange) -> ResponseVerdict {
            exchange.keepResponse(body)
            return .pass
        }

        func chunk(_ bytes: inout ByteBuffer, _ exchange: inout Exchange) async -> ResponseVerdict {
            exchange.keepResponse(bytes)
            return .pass
        }

        func ending(_ bytes: ByteBuffer, _ exchange: inout Exchange) {
            exchange.keepResponse(bytes)
        }
    }
}
