import Foundation
import PostgresNIO
import Testing
@testable import SwitchboardStore

/// The throwaway PostgreSQL server the test command starts (scripts/pg.sh).
///
/// `swift test` alone, with no server, skips the tests that need one (`.needsPostgres`) and says why. The test
/// command sets `SWITCHBOARD_REQUIRE_POSTGRES=1`: there the tests always run, and a missing server fails them.
enum TestPostgres {
    static let urlVariable = "SWITCHBOARD_TEST_POSTGRES_URL"
    static let requireVariable = "SWITCHBOARD_REQUIRE_POSTGRES"

    static var configuredURL: String? {
        guard let url = ProcessInfo.processInfo.environment[urlVariable], !url.isEmpty else { return nil }
        return url
    }

    /// Whether a missing server is a failure (the test command) rather than a reason to skip.
    static var required: Bool { ProcessInfo.processInfo.environment[requireVariable] == "1" }

    /// Whether the tests that need PostgreSQL run: with a server, or when one is required (and then fail without it).
    static var runs: Bool { configuredURL != nil || required }

    /// Why a test that needs PostgreSQL fails when it runs without one (only under SWITCHBOARD_REQUIRE_POSTGRES=1).
    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "\(TestPostgres.requireVariable)=1 but \(TestPostgres.urlVariable) is not set: scripts/test.sh starts a throwaway PostgreSQL (scripts/pg.sh) and sets it; point the variable at a server to run these tests"
        }
    }

    static var baseURL: String {
        get throws {
            guard let url = configuredURL else { throw Missing() }
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

extension Trait where Self == ConditionTrait {
    /// For tests that need a PostgreSQL server: skipped, with this reason in the output, when
    /// SWITCHBOARD_TEST_POSTGRES_URL is unset, unless SWITCHBOARD_REQUIRE_POSTGRES=1 (scripts/test.sh sets it), where
    /// they run and fail without a server.
    static var needsPostgres: Self {
        .enabled(if: TestPostgres.runs,
                 "needs PostgreSQL, and SWITCHBOARD_TEST_POSTGRES_URL is not set (scripts/test.sh starts one and runs these tests)")
    }
}
