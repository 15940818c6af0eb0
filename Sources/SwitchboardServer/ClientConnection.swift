import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import SwitchboardCore
import Synchronization

/// One client connection as the request handlers see it: whether the client is still there.
///
/// Hummingbird does not cancel a handler whose client went away; `cancellingOnDisconnect` does, so a request that
/// nobody waits for no longer keeps its upstream busy (nor gets billed as answered).
final class ClientConnection: Sendable {
    private struct State {
        var gone = false
        var next = 0
        var callbacks: [Int: @Sendable () -> Void] = [:]
    }
    private let state = Mutex(State())

    /// Runs `callback` once the client is gone (at once if it already is); returns a token for `remove`.
    func onGone(_ callback: @escaping @Sendable () -> Void) -> Int? {
        let token: Int? = state.withLock { s in
            guard !s.gone else { return nil }
            s.next += 1
            s.callbacks[s.next] = callback
            return s.next
        }
        if token == nil { callback() }
        return token
    }

    func remove(_ token: Int) { _ = state.withLock { $0.callbacks.removeValue(forKey: token) } }

    /// Marks the client gone and runs the callbacks. They run under the lock, so one is never running after its
    /// `remove` returned (`cancellingOnDisconnect` relies on it: its task is alive while it is cancelled).
    func markGone() {
        state.withLock { s in
            guard !s.gone else { return }
            s.gone = true
            for c in s.callbacks.values { c() }
            s.callbacks = [:]
        }
    }

    /// The connections open now, by channel, for request contexts to find theirs.
    private static let open = Mutex<[ObjectIdentifier: ClientConnection]>([:])
    static func of(_ channel: any Channel) -> ClientConnection? { open.withLock { $0[ObjectIdentifier(channel)] } }
    static func register(_ c: ClientConnection, _ channel: any Channel) { open.withLock { $0[ObjectIdentifier(channel)] = c } }
    static func unregister(_ channel: any Channel) { _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
}

/// Runs `body`, cancelling the current task if the client of `connection` goes away meanwhile. No task is made:
/// the request's own task is cancelled, through a handle that is only used while `body` runs (the callback is
/// removed, under the connection's lock, before this returns).
func cancellingOnDisconnect<T: Sendable>(_ connection: ClientConnection?, _ body: () async throws -> T) async throws -> T {
    guard let connection else { return try await body() }
    let token = withUnsafeCurrentTask { task in
        task.flatMap { task in
            let handle = CurrentTaskHandle(task)
            return connection.onGone { handle.task.cancel() }
        }
    }
    defer { if let token { connection.remove(token) } }
    return try await body()
}

/// The request's task, for `cancellingOnDisconnect` only (see there why it is safe to use from the callback).
private struct CurrentTaskHandle: @unchecked Sendable {
    let task: UnsafeCurrentTask
    init(_ task: UnsafeCurrentTask) { self.task = task }
}

/// Tells the `RequestDispatcher` behind the HTTP decoder that bytes arrived (an `Arrived` event ahead of them), so it
/// sees a request's first byte, not only its parsed head. Only there with `waf.client_timeout_s`.
final class RequestBytesWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    struct Arrived {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireUserInboundEventTriggered(Arrived())
        context.fireChannelRead(data)
    }
}
