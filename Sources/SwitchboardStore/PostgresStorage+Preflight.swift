import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Reaching PostgreSQL at start: one plain connection before the pool, so a server that cannot be reached (or refuses
/// the user or the database) is reported at once, in words.
extension PostgresStorage {
    /// Opens and closes one connection with `configuration`, within 10 s; throws `StorageError.unreachable` saying why not.
    static func preflight(_ configuration: PostgresConnection.Configuration, target: String, logger: Logger) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                    try await connection.close()
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(10))
                    throw StorageError.unreachable("no answer within 10 s")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch let error as StorageError {
            throw StorageError.unreachable("cannot reach PostgreSQL at \(target): \(error.detail)")
        } catch let error as PSQLError where Self.isTransient(error) {
            // The server is there but busy (too many connections, starting up): the pool waits and retries.
            logger.notice("PostgreSQL is busy at start; the pool retries", metadata: ["reason": "\(reason(error))"])
        } catch {
            throw StorageError.unreachable("cannot reach PostgreSQL at \(target): \(reason(error))")
        }
    }

    /// A refusal that passes: insufficient resources (SQLSTATE class 53, e.g. too many connections) or a server still
    /// starting or shutting down (57P03).
    static func isTransient(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("53") || state == "57P03"
    }

    /// Why a connection failed, in words for the operator (PSQLError's own description is generic on purpose).
    static func reason(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] { return message }
            if let underlying = e.underlying { return reason(underlying) }
            return "\(e.code)"
        }
        if let e = error as? NIOConnectionError {
            if let dns = e.dnsAError ?? e.dnsAAAAError { return "the host name could not be resolved (\(dns))" }
            if let first = e.connectionErrors.first { return reason(first.error) }
        }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)) }
        return String(describing: error)
    }
}
