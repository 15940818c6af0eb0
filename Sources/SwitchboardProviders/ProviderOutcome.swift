import NIOCore
import SwitchboardCore

/// What a provider's call came to, in the API the client speaks.
public enum ProviderOutcome: Sendable {
    /// A whole answer: one JSON object, and its usage (checked plausible; nil when the answer reports none).
    case answer(ByteBuffer, usage: Usage?)
    /// A stream that has begun: its content type, its first chunk (nil: it ended at once) and the rest.
    case stream(contentType: String?, first: ByteBuffer?, rest: UpstreamStream)
    /// No answer.
    case failure(ProviderFailure)
}

/// A call that brought no answer: what the client is told, and what it means for routing — classified by the
/// provider, which knows its upstream's wire format and error wording.
public struct ProviderFailure: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A connection error, a timeout, a 5xx, an answer that cannot be relayed: try another deployment.
        case failed
        /// 429: the deployment is cooling down (for `Retry-After` when given); try another.
        case rateLimited(retryAfterMs: Double?)
        /// The provider refused the gateway's own credentials: another deployment may have working ones.
        case authRejected
        /// The prompt is too long for the deployment: go to the context-window fallbacks.
        case contextTooLong
        /// The provider refused the content: go to the content-policy fallbacks.
        case contentRefused
        /// The request itself is at fault (another 4xx, a request the provider's API cannot express): not retried.
        case clientError
    }

    public var kind: Kind
    public var error: GatewayError

    public init(_ kind: Kind, _ error: GatewayError) {
        self.kind = kind
        self.error = error
    }
}

/// A stream's body after its first chunk, handed to the relay. Only one task reads it, once the answer is committed.
public final class UpstreamStream: @unchecked Sendable {
    public var iterator: UpstreamBody.AsyncIterator

    public init(_ iterator: UpstreamBody.AsyncIterator) { self.iterator = iterator }

    /// The next chunk (nil: the stream ended).
    public func next() async throws -> ByteBuffer? { try await iterator.next() }

    /// The next chunk, or a timeout error if none arrives within `ms` on `clock` (the body is then abandoned).
    func next(within ms: Double, on clock: any EngineClock) async throws -> ByteBuffer? {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await self.iterator.next() }
            group.addTask {
                try await clock.sleep(ms: ms)
                throw UpstreamError(.timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
