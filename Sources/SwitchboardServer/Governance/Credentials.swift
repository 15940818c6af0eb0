import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import SwitchboardCore
import SwitchboardProviders
import SwitchboardStore

/// AES-256-GCM sealing of provider keys under `auth.encryption_key`, the provider's name as associated data.
enum Sealer {
    static func seal(_ secret: String, provider: String, key: [UInt8]) throws -> String {
        let box = try AES.GCM.seal(Array(secret.utf8), using: SymmetricKey(data: key), authenticating: Array(provider.utf8))
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        return combined.base64EncodedString()
    }

    static func open(_ sealed: String, provider: String, key: [UInt8]) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw CryptoKitError.incorrectParameterSize }
        let plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: SymmetricKey(data: key), authenticating: Array(provider.utf8))
        return String(decoding: plain, as: UTF8.self)
    }
}

/// Provider keys set through the admin API, in clear in memory only, read by `CredentialTransport` per request.
final class CredentialOverrides: Sendable {
    private let keys = Mutex<[String: (key: String, updatedAt: Double)]>([:])

    func key(for provider: String) -> String? { keys.withLock { $0[provider]?.key } }
    func updatedAt(_ provider: String) -> Double? { keys.withLock { $0[provider]?.updatedAt } }
    /// Learns every stored key, so it is scrubbed from upstream errors and logged bodies too.
    let scrubber: SecretScrubber?
    init(scrubber: SecretScrubber? = nil) { self.scrubber = scrubber }
    func set(_ provider: String, _ key: String?, updatedAt: Double = 0) {
        keys.withLock { $0[provider] = key.map { ($0, updatedAt) } }
        if let key { scrubber?.add([key]) }
    }

    /// Reads every stored credential; ones that cannot be opened (another encryption key) are skipped with a
    /// warning naming only the provider.
    func reload(from storage: any Storage, key: [UInt8], providers: Set<String>, logger: Logger) async throws {
        var fresh: [String: (key: String, updatedAt: Double)] = [:]
        for c in try await storage.credentials() where providers.contains(c.provider) {
            do {
                fresh[c.provider] = (try Sealer.open(c.sealed, provider: c.provider, key: key), c.updatedAt)
            } catch {
                logger.warning("A stored provider key cannot be opened with auth.encryption_key; the configured one is used",
                               metadata: ["provider": "\(c.provider)"])
            }
        }
        keys.withLock { $0 = fresh }
    }
}

/// Puts a provider's stored key on its requests, in the header its API expects, in place of the configured one.
struct CredentialTransport: UpstreamTransport {
    let base: any UpstreamTransport
    let provider: String
    let auth: AuthHeader
    let overrides: CredentialOverrides

    func execute(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        guard let key = overrides.key(for: provider) else { return try await base.execute(request) }
        var r = request
        r.headers.removeAll { $0.name.lowercased() == auth.name }
        r.headers.append(auth.header(key))
        return try await base.execute(r)
    }
}

/// Re-reads stored provider keys every 10 s, so a key set through one replica reaches the others.
struct CredentialRefreshService: Service {
    let overrides: CredentialOverrides
    let storage: any Storage
    let key: [UInt8]
    let providers: Set<String>
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(10)) }
            if Task.isShuttingDownGracefully { break }
            do { try await overrides.reload(from: storage, key: key, providers: providers, logger: logger) } catch {
                logger.warning("Could not re-read stored provider keys", metadata: ["error.type": "\(type(of: error))"])
            }
        }
    }
}

/// `/admin/credentials`: set, list and delete provider keys, sealed at rest; a key is never shown. Changes are audited
/// (`credential.set`, `credential.delete`) by provider name only.
enum CredentialsAPI {
    static func add(to admin: RouterGroup<GatewayRequestContext>, config: GatewayConfig, storage: any Storage, overrides: CredentialOverrides,
                    auditor: Auditor) {
        let group = admin.group("credentials").add(middleware: RoleMiddleware(.admin))
        let kinds = Dictionary(config.providers.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
        @Sendable func configured(_ kind: ProviderKind) -> Bool {
            switch kind {
            case .openai(let o): o.apiKey != nil
            case .azure(let a): a.apiKey != nil
            case .anthropic(let a): a.apiKey != nil
            case .gemini(let g): g.apiKey != nil
            case .mock: false
            }
        }
        @Sendable func entry(_ name: String) -> JSONValue {
            let kind = kinds[name]!
            let stored = overrides.updatedAt(name)
            return .object(["provider": .string(name), "kind": .string(kind.name),
                            "source": .string(stored != nil ? "admin" : configured(kind) ? "config" : "none"),
                            "updated_at": stored.map { .string(GovernanceSpec.iso($0)) } ?? .null])
        }
        @Sendable func provider(_ context: GatewayRequestContext) throws(GatewayError) -> String {
            let name = context.parameters.get("provider") ?? ""
            guard let kind = kinds[name] else { throw KeyService.notFound("provider named '\(name)'") }
            guard AuthHeader.of(kind) != nil else {
                throw GatewayError(.invalidParameter,
                                   "The provider '\(name)' (kind \(kind.name)) takes no API key.")
            }
            return name
        }
        group.get { _, _ in AdminAPI.list(config.providers.map(\.name).filter { kinds[$0].flatMap(AuthHeader.of) != nil }.map(entry)) }
        group.put(":provider") { request, context in
            let name = try provider(context)
            guard let key = config.auth.encryptionKey else {
                throw GatewayError(.encryptionKeyMissing,
                                   "Provider keys can be stored only when auth.encryption_key is set (32 bytes, base64).")
            }
            let body = try await AdminAPI.body(request)
            guard let apiKey = body["api_key"]?.string, !apiKey.isEmpty, apiKey.utf8.count <= 4096,
                  apiKey.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                throw GatewayError(.invalidParameter,
                                   "api_key: expected a non-empty string of printable ASCII (at most 4096 bytes).", param: "api_key")
            }
            let now = Date().timeIntervalSince1970
            let sealed: String
            do { sealed = try Sealer.seal(apiKey, provider: name, key: key) } catch { throw GatewayError.internalError("sealing failed") }
            do { try await storage.setCredential(provider: name, sealed: sealed, updatedAt: now) } catch {
                throw GatewayError.storageUnavailable
            }
            let replaced = overrides.updatedAt(name) != nil
            overrides.set(name, apiKey, updatedAt: now)
            await auditor.record(.credentialSet, .credential(name), by: AuditActor(context),
                                 detail: ["provider": .string(name), "kind": .string(kinds[name]!.name), "replaced": .bool(replaced)])
            return AdminAPI.json(entry(name))
        }
        group.delete(":provider") { _, context in
            let name = try provider(context)
            let deleted: Bool
            do { deleted = try await storage.deleteCredential(provider: name) } catch {
                throw GatewayError.storageUnavailable
            }
            guard deleted else { throw KeyService.notFound("stored key for the provider '\(name)'") }
            overrides.set(name, nil)
            await auditor.record(.credentialDelete, .credential(name), by: AuditActor(context), detail: ["provider": .string(name)])
            return AdminAPI.json(entry(name))
        }
    }
}
