import Foundation
import PostgresNIO
import Testing
@testable import SwitchboardStore

/// The throwaway PostgreSQL server the test command starts (scripts/pg.sh); tests that need it fail, loudly, without it.
enum TestPostgres {
    static var baseURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_URL"], !url.isEmpty else {
                Issue.record("SWITCHBOARD_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL (scripts/pg.sh), or point the variable at one")
                throw StorageError.corrupt("no test PostgreSQL")
            }
            return url
        }
    }

    /// A new, empty database on the test server; its URL.
    static func freshDatabase() async throws -> String {
        let base = try baseURL
        let name = "sb_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try await PostgresStorage.open(url: base)
        try await admin.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        try await admin.close()
        var c = URLComponents(string: base)!
        c.path = "/" + name
        return c.string!
    }
}
