import NIOCore
import NIOEmbedded
@testable import SwitchboardServer
import Testing

/// `ReadAhead`: the socket is asked for its next read after each one, though the handlers behind hold their reads back
/// (as NIO's pipelining assistance does while a request is answered) — but only up to a bound.
@Suite struct ReadAheadTests {
    /// Counts the reads that reach the channel.
    final class Reads: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var count = 0
        func read(context: ChannelHandlerContext) {
            count += 1
            context.read()
        }
    }

    /// Takes what it is given and passes a read on only when told to.
    final class Holder: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
        var passes = false
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
        func read(context: ChannelHandlerContext) { if passes { context.read() } }
    }

    @Test func asksForTheNextReadItselfUpToItsLimit() throws {
        let channel = EmbeddedChannel()
        let reads = Reads(), holder = Holder()
        try channel.pipeline.syncOperations.addHandlers([reads, ReadAhead(limit: 100), holder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        let before = reads.count
        // Each completed read: the next is asked for at once, though the handler behind holds its reads back.
        try channel.writeInbound(ByteBuffer(repeating: 0, count: 40))
        #expect(reads.count == before + 1)
        try channel.writeInbound(ByteBuffer(repeating: 0, count: 40))
        #expect(reads.count == before + 2)
        // Past the limit of bytes nobody behind asked for, it stops asking: NIO's own back-pressure holds.
        try channel.writeInbound(ByteBuffer(repeating: 0, count: 40))
        #expect(reads.count == before + 2)
        // Once the handler behind asks again, the count starts over and reading goes on.
        holder.passes = true
        channel.read()
        #expect(reads.count == before + 3)
        holder.passes = false
        try channel.writeInbound(ByteBuffer(repeating: 0, count: 40))
        #expect(reads.count == before + 4)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}
