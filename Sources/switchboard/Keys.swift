import ArgumentParser
import Foundation
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore

/// Options shared by the commands that change a key: each flag becomes a field of the admin API's JSON body, and
/// `--json` adds any other field (limits per model, metadata, …).
struct KeyFields: ParsableArguments {
    @Option(help: "The key's name (unique among keys that are not revoked).")
    var name: String?
    @Option(help: "The team the key belongs to (it must exist); \"\" removes it.")
    var team: String?
    @Option(help: "Models the key may use, comma-separated names or globs (chat-*); \"\" allows all.")
    var models: String?
    @Option(help: "Roles, comma-separated: user, admin, reviewer (default user).")
    var roles: String?
    @Option(help: "Priority class: critical, standard or batch (default standard).")
    var priority: String?
    @Option(help: "Region tag.")
    var region: String?
    @Option(help: "Lifetime from now: 30d, 12h, 15m, 90s.")
    var duration: String?
    @Option(help: "Expiry as an ISO 8601 time (2027-01-31T00:00:00Z).")
    var expiresAt: String?
    @Option(help: "Requests per minute.")
    var rpm: Int?
    @Option(help: "Tokens per minute.")
    var tpm: Int?
    @Option(help: "Requests in flight at once.")
    var maxConcurrent: Int?
    @Option(help: "A budget in USD: PERIOD=USD or PERIOD=USD:ALERT_USD, PERIOD one of day, week, month, total (repeatable).")
    var budget: [String] = []
    @Option(help: "More fields as a JSON object, as the admin API takes them.")
    var json: String?

    /// The fields as the admin API's JSON body.
    func body(teamFields: Bool = false) throws -> JSONValue {
        var o: [String: JSONValue] = [:]
        if let json {
            guard let extra = JSONValue.parse(Data(json.utf8))?.object else { throw ValidationError("--json must be a JSON object") }
            o = extra
        }
        func list(_ s: String) -> JSONValue { .array(s.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }) }
        if let name { o["name"] = .string(name) }
        if let models { o["models"] = list(models) }
        if !teamFields {
            if let team { o["team"] = team.isEmpty ? .null : .string(team) }
            if let roles { o["roles"] = list(roles) }
            if let priority { o["priority"] = .string(priority) }
            if let region { o["region"] = .string(region) }
            if let duration { o["duration"] = .string(duration) }
            if let expiresAt { o["expires_at"] = .string(expiresAt) }
        }
        var limits = o["limits"]?.object ?? [:]
        if let rpm { limits["rpm"] = .int(rpm) }
        if let tpm { limits["tpm"] = .int(tpm) }
        if let maxConcurrent { limits["max_concurrent"] = .int(maxConcurrent) }
        if !budget.isEmpty {
            var budgets: [JSONValue] = limits["budgets"]?.array ?? []
            for b in budget {
                let parts = b.split(separator: "=", maxSplits: 1)
                let amounts = parts.count == 2 ? parts[1].split(separator: ":") : []
                guard parts.count == 2, (1...2).contains(amounts.count), let usd = Double(amounts[0]) else {
                    throw ValidationError("--budget expects PERIOD=USD or PERIOD=USD:ALERT_USD, got \(b)")
                }
                var e: [String: JSONValue] = ["period": .string(String(parts[0])), "usd": .double(usd)]
                if amounts.count == 2 {
                    guard let alert = Double(amounts[1]) else { throw ValidationError("--budget: \(amounts[1]) is not a number") }
                    e["alert_usd"] = .double(alert)
                }
                budgets.append(.object(e))
            }
            limits["budgets"] = .array(budgets)
        }
        if !limits.isEmpty { o["limits"] = .object(limits) }
        return .object(o)
    }
}

/// Runs an admin command against the storage of `--config` and prints the answer as JSON (exit 1 on an error).
func runAdmin(_ command: AdminCommand, config path: String?) async throws {
    let cfg = try loadConfig(path: path)
    complain("storage: \(shownStorage(cfg.storage))\(path == nil ? " (the demo configuration's; pass --config for your own)" : "")")
    let storage: any Storage
    do {
        storage = try await openStorage(cfg.storage)
        try await storage.migrate()
    } catch {
        complain("error: cannot open storage \(shownStorage(cfg.storage)): \(describeStartFailure(error))")
        throw ExitCode(1)
    }
    // A supplied key may not repeat one of the configuration's keys or its master key.
    let reserved = Set(cfg.auth.keys.map(\.key) + (cfg.auth.masterKey.map { [$0] } ?? []))
    let result = await command.run(storage: storage, reserved: { reserved.contains($0) })
    try? await storage.close()
    switch result {
    case .success(let json):
        say(json.prettyText)
    case .failure(let error):
        FileHandle.standardError.write(Data("error (\(error.status) \(error.code)): \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}

extension JSONValue {
    var prettyText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

struct ConfigOption: ParsableArguments {
    @Option(help: "The YAML configuration file whose storage holds the keys (default: the embedded demo's).")
    var config: String?
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage client keys (in the storage of --config): create, list, show, update, revoke, rotate.",
        discussion: "A key is shown once, when it is created or rotated; storage keeps only a salted hash. KEY is a key's id or, for keys that are not revoked, its name.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Revoke.self, Rotate.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it (the only time it is shown).",
            discussion: "With --key the key's text is yours (a key another gateway issued, so its clients need not change): 20 to 256 printable ASCII characters, no spaces or other whitespace; it is stored hashed and not printed back. --key - reads it from standard input, keeping it out of the shell's history.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var fields: KeyFields
        @Option(help: "The key's text, when you supply it (\"-\": read it from standard input).")
        var key: String?

        func run() async throws {
            var body = try fields.body().object ?? [:]
            if let key {
                let text = key == "-" ? (readLine(strippingNewline: true) ?? "") : key
                body["key"] = .string(text)
            }
            try await runAdmin(.createKey(.object(body)), config: options.config)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (not revoked ones unless --include-revoked).")
        @OptionGroup var options: ConfigOption
        @Option(help: "Only the keys of this team.") var team: String?
        @Flag(help: "Include revoked keys.") var includeRevoked = false
        func run() async throws { try await runAdmin(.listKeys(team: team, includeRevoked: includeRevoked), config: options.config) }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a key and its spend.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The key's id or name.") var key: String
        func run() async throws { try await runAdmin(.showKey(key), config: options.config) }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's fields (the others stay as they are; --limits replace the key's limits).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The key's id or name.") var key: String
        @OptionGroup var fields: KeyFields
        func run() async throws { try await runAdmin(.updateKey(key, try fields.body()), config: options.config) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it is refused from now on (kept for its history).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The key's id or name.") var key: String
        func run() async throws { try await runAdmin(.revokeKey(key), config: options.config) }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a key a new secret (same id, settings and spend); the old one stops working.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The key's id or name.") var key: String
        func run() async throws { try await runAdmin(.rotateKey(key), config: options.config) }
    }
}

struct Teams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage teams (in the storage of --config): create, list, show, update, delete.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a team.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var fields: KeyFields
        func run() async throws { try await runAdmin(.createTeam(try fields.body(teamFields: true)), config: options.config) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List teams.")
        @OptionGroup var options: ConfigOption
        func run() async throws { try await runAdmin(.listTeams, config: options.config) }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a team and its spend.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The team's name.") var team: String
        func run() async throws { try await runAdmin(.showTeam(team), config: options.config) }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a team's models, limits or metadata.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The team's name.") var team: String
        @OptionGroup var fields: KeyFields
        func run() async throws { try await runAdmin(.updateTeam(team, try fields.body(teamFields: true)), config: options.config) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a team that has no active keys.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The team's name.") var team: String
        func run() async throws { try await runAdmin(.deleteTeam(team), config: options.config) }
    }
}
