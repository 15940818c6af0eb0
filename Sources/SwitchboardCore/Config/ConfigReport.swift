import Foundation

/// The running configuration as JSON (`GET /admin/config`), named as the YAML names it, with every secret masked:
/// provider API keys and header values, the master key, static keys, the encryption key, the budget webhook, the
/// storage password, the tracing exporter's headers, and any password or secret-looking parameter in a URL.
public enum ConfigReport {
    /// The source of the configuration `switchboard serve` runs without `--config`.
    public static let demoSource = "embedded demo configuration"
    /// The source of a configuration built by the embedding program (tests) rather than read from a file.
    public static let inCodeSource = "configuration given in code"

    /// A secret as the report shows it: `••••` and its last four characters when it has 16 or more, `••••` alone
    /// when it is shorter (its end would give too much of it away).
    public static func mask(_ secret: String) -> String {
        secret.count >= 16 ? "••••" + secret.suffix(4) : "••••"
    }

    /// A URL with its password (`user:PASSWORD@host`) and the values of secret-looking query parameters (`key`,
    /// `token`, `password`, `secret`, `sig`, `auth`…) replaced by `****`; a text that is not a URL is masked whole.
    public static func maskURL(_ text: String) -> String {
        guard var c = URLComponents(string: text), c.scheme != nil else { return mask(text) }
        if c.password != nil { c.percentEncodedPassword = "****" }
        if let items = c.queryItems, !items.isEmpty {
            c.queryItems = items.map { item in
                isSecretName(item.name) && item.value != nil ? URLQueryItem(name: item.name, value: "****") : item
            }
        }
        return c.string ?? mask(text)
    }

    /// Whether a parameter's name says it holds a secret.
    static func isSecretName(_ name: String) -> Bool {
        let n = name.lowercased()
        return ["key", "secret", "token", "password", "passwd", "pwd", "sig", "auth", "credential"].contains { n.contains($0) }
    }

    /// The whole report. `source` is the configuration file's absolute path or `demoSource`.
    public static func json(_ config: GatewayConfig, source: String) -> JSONValue {
        .object([
            "source": .string(source),
            "server": server(config.server),
            "storage": storage(config.storage),
            "auth": auth(config.auth),
            "providers": .array(config.providers.map(provider)),
            "models": .array(config.models.map(model)),
            "routing": routing(config.routing),
            "router": router(config.router),
            "waf": waf(config.waf),
            "guardrails": guardrails(config.guardrails),
            "review": review(config.review),
            "logging": logging(config.logging),
            "metrics": .object(["key_labels": .bool(config.metrics.keyLabels)]),
            "tracing": tracing(config.tracing),
            "audit": .object(["retention_days": .double(config.audit.retentionDays)]),
            "responses": .object(["retention_days": .double(config.responses.retentionDays)]),
            "batches": .object([
                "enabled": .bool(config.batches.enabled), "concurrency": .int(config.batches.concurrency),
                "max_file_bytes": .int(config.batches.maxFileBytes), "retention_days": .double(config.batches.retentionDays),
                "lease_s": .double(config.batches.leaseSeconds), "poll_ms": .int(config.batches.pollMilliseconds),
            ]),
        ])
    }

    // MARK: Sections

    static func server(_ s: ServerConfig) -> JSONValue {
        let host = s.host.contains(":") ? "[\(s.host)]" : s.host
        return .object([
            "listen": .string("\(host):\(s.port)"), "max_body_bytes": .int(s.maxBodyBytes), "event_loop_threads": .int(s.eventLoopThreads),
            "shutdown_grace_s": .double(s.shutdownGraceSeconds), "max_in_flight": .int(s.maxInFlight), "queue_depth": .int(s.queueDepth),
            "queue_timeout_s": .double(s.queueTimeoutSeconds), "max_connections": .int(s.maxConnections),
            "request_timeout_s": .double(s.requestTimeoutSeconds),
            // Paths only: the files' contents (the private key) never leave the server.
            "tls": s.tls.map { tls in
                .object(["cert_file": .string(tls.certFile), "key_file": .string(tls.keyFile), "client_ca_file": optional(tls.clientCAFile)])
            } ?? .null,
        ])
    }

    static func storage(_ s: StorageLocation) -> JSONValue {
        switch s {
        case .memory: .object(["kind": "memory"])
        case .sqlite(let path): .object(["kind": "sqlite", "path": .string(path)])
        case .postgres(let url): .object(["kind": "postgres", "url": .string(maskURL(url))])
        }
    }

    static func auth(_ a: AuthConfig) -> JSONValue {
        .object([
            "master_key": a.masterKey.map { .string(mask($0)) } ?? .null,
            "static_keys": .array(a.keys.map { k in
                .object(["name": .string(k.name), "key": .string(mask(k.key)), "models": .array(k.models.map(JSONValue.string))])
            }),
            // Bytes, not text: nothing of it is shown.
            "encryption_key": a.encryptionKey == nil ? .null : "••••",
            // A webhook's URL is its credential (Slack's carry a token in the path).
            "budget_alert_webhook": a.budgetAlertWebhook.map { .string(mask($0)) } ?? .null,
            "key_cache_s": .double(a.keyCacheSeconds),
        ])
    }

    static func provider(_ p: ProviderConfig) -> JSONValue {
        var o: [String: JSONValue] = ["name": .string(p.name), "kind": .string(p.kind.name), "base_url": .null, "api_key": .null, "headers": .object([:])]
        if let region = p.region { o["region"] = .string(region) }
        if let h = p.healthCheck {
            o["health_check"] = .object([
                "path": optional(h.path), "interval_s": .double(h.intervalSeconds), "timeout_s": .double(h.timeoutSeconds),
                "unhealthy_threshold": .int(h.unhealthyThreshold), "healthy_threshold": .int(h.healthyThreshold),
            ])
        }
        func upstream(_ baseURL: String, _ apiKey: String?, _ headers: [(name: String, value: String)]) {
            o["base_url"] = .string(maskURL(baseURL))
            o["api_key"] = apiKey.map { .string(mask($0)) } ?? .null
            // Every value masked: extra headers often carry tokens.
            o["headers"] = .object(Dictionary(headers.map { ($0.name, JSONValue.string(mask($0.value))) }, uniquingKeysWith: { a, _ in a }))
            if let caFile = p.caFile { o["ca_file"] = .string(caFile) }
        }
        switch p.kind {
        case .openai(let c):
            upstream(c.baseURL, c.apiKey, c.headers)
            o["responses_api"] = .bool(c.speaksResponses)
        case .gemini(let c): upstream(c.baseURL, c.apiKey, c.headers)
        case .azure(let c):
            upstream(c.baseURL, c.apiKey, c.headers)
            o["api_version"] = .string(c.apiVersion)
        case .anthropic(let c):
            upstream(c.baseURL, c.apiKey, c.headers)
            o["version"] = .string(c.version)
            o["max_tokens"] = .int(c.defaultMaxTokens)
        case .mock(let m):
            o["latency_ms"] = .int(m.latencyMs)
            o["ttft_ms"] = .int(m.ttftMs)
            o["tokens_per_s"] = .double(m.tokensPerSecond)
            o["error_rate"] = .double(m.errorRate)
            o["seed"] = .int(Int(truncatingIfNeeded: m.seed))
            o["completion_tokens"] = .int(m.completionTokens)
            if m.echo { o["reply"] = .string("echo") }
            o["embedding_dimensions"] = .int(m.embeddingDimensions)
            o["api"] = .string(m.api.rawValue)
        }
        return .object(o)
    }

    static func model(_ m: ModelConfig) -> JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(m.name), "balancer": .string(m.balancing.rawValue), "fallbacks": strings(m.fallbacks),
            "deployments": .array(m.deployments.map(deployment)),
        ]
        if let v = m.contextWindowFallbacks { o["context_window_fallbacks"] = strings(v) }
        if let v = m.contentPolicyFallbacks { o["content_policy_fallbacks"] = strings(v) }
        if let v = m.retries { o["retries"] = .int(v) }
        if let v = m.deadlineSeconds { o["deadline_s"] = .double(v) }
        if let h = m.hedge { o["hedge"] = .object(["after_ms": .double(h.afterMs), "percentile": h.percentile.map(JSONValue.double) ?? .null]) }
        return .object(o)
    }

    static func deployment(_ d: DeploymentConfig) -> JSONValue {
        var limits: [String: JSONValue] = [:]
        if let v = d.limits.rpm { limits["rpm"] = .int(v) }
        if let v = d.limits.tpm { limits["tpm"] = .int(v) }
        if let v = d.limits.maxConcurrent { limits["max_concurrent"] = .int(v) }
        var price: [String: JSONValue] = ["input_per_million_usd": .double(d.price.input), "output_per_million_usd": .double(d.price.output)]
        if let id = d.priceID { price["price_id"] = .string(id) }
        if let v = d.price.cachedInput { price["cached_input_per_million_usd"] = .double(v) }
        if let v = d.price.cacheWrite { price["cache_write_per_million_usd"] = .double(v) }
        if let v = d.price.reasoning { price["reasoning_per_million_usd"] = .double(v) }
        var timeouts: [String: JSONValue] = [:]
        if let v = d.timeouts.connectSeconds { timeouts["connect_s"] = .double(v) }
        if let v = d.timeouts.firstTokenSeconds { timeouts["first_token_s"] = .double(v) }
        if let v = d.timeouts.idleSeconds { timeouts["idle_s"] = .double(v) }
        if let v = d.timeouts.totalSeconds { timeouts["total_s"] = .double(v) }
        let c = d.capabilities
        var capabilities: [String: JSONValue] = [
            "tools": .bool(c.tools), "vision": .bool(c.vision), "json_mode": .bool(c.jsonMode), "streaming": .bool(c.streaming),
        ]
        if let v = c.contextWindow { capabilities["context_window"] = .int(v) }
        if let v = c.maxOutputTokens { capabilities["max_output_tokens"] = .int(v) }
        return .object([
            "provider": .string(d.provider), "model": .string(d.model), "weight": .int(d.weight), "limits": .object(limits),
            "price": .object(price), "timeouts": .object(timeouts), "capabilities": .object(capabilities),
        ])
    }

    static func routing(_ r: RoutingConfig) -> JSONValue {
        let h = r.health
        return .object([
            "retries": .int(r.retries), "deadline_s": .double(r.deadlineSeconds), "timeout_s": .double(r.timeoutSeconds),
            "connect_timeout_s": .double(r.connectTimeoutSeconds), "total_timeout_s": .double(r.totalTimeoutSeconds),
            "default_fallback": optional(r.defaultFallback),
            "backoff": .object(["base_ms": .double(r.backoff.baseMs), "max_ms": .double(r.backoff.maxMs)]),
            "health": .object([
                "failure_threshold": .int(h.failureThreshold), "ejection_s": .double(h.ejectionSeconds),
                "max_ejection_s": .double(h.maxEjectionSeconds), "cooldown_s": .double(h.cooldownSeconds),
                "error_ratio": .double(h.errorRatio ?? 0), "min_requests": .int(h.minRequests),
            ]),
        ])
    }

    /// `router:`: virtual models and rules. A rule shows which conditions it has, not their values (a `headers`
    /// condition may well spell out a token).
    static func router(_ r: RouterConfig) -> JSONValue {
        .object([
            "models": strings(r.virtualModels),
            "rules": .array(r.rules.map { rule in
                let w = rule.when
                let present: [(String, Bool)] = [
                    ("model", w.models != nil), ("key", w.keys != nil), ("team", w.teams != nil), ("metadata", w.metadata != nil),
                    ("request_metadata", w.requestMetadata != nil), ("tags", w.tags != nil), ("headers", w.headers != nil),
                    ("prompt_tokens", w.promptTokens != nil), ("tools", w.tools != nil), ("images", w.images != nil), ("json", w.json != nil),
                    ("stream", w.stream != nil), ("content", w.content != nil), ("language", w.languages != nil),
                    ("difficulty", w.difficulty != nil), ("region", w.regions != nil),
                ]
                let route: JSONValue = switch rule.route {
                case .model(let m): .object(["model": .string(m)])
                case .tiers(let ms): .object(["tiers": strings(ms)])
                case .cheapest(let ms): .object(["cheapest": strings(ms)])
                }
                return .object(["name": .string(rule.name), "when": strings(present.filter(\.1).map(\.0)), "route": route])
            }),
            "region_header": optional(r.regionHeader), "expected_output_tokens": .int(r.expectedOutputTokens),
            "classifier": optional(r.classifierFile),
            // Header values of the pricing source may carry a token: masked like every header.
            "pricing": r.pricing.map { p in
                .object(["url": .string(maskURL(p.url)), "refresh_s": .double(p.refreshSeconds), "timeout_s": .double(p.timeoutSeconds),
                         "headers": .object(p.headers.mapValues { .string(mask($0)) })])
            } ?? .null,
        ])
    }

    static func logging(_ l: LoggingConfig) -> JSONValue {
        .object([
            "format": .string(l.format.rawValue), "access_log": .bool(l.accessLog), "request_log_retention_days": .double(l.retentionDays),
            "bodies": .object([
                "enabled": .bool(l.bodies.enabled), "max_bytes": .int(l.bodies.maxBytes),
                "redact": strings(l.bodies.redact.map(\.rawValue)), "patterns": strings(l.bodies.patterns),
            ]),
        ])
    }

    static func tracing(_ t: TracingConfig) -> JSONValue {
        .object([
            "enabled": .bool(t.enabled), "endpoint": .string(maskURL(t.endpoint)), "protocol": .string(t.wireProtocol.rawValue),
            // Every value masked: exporters' headers carry vendors' API keys.
            "headers": .object(t.headers.mapValues { .string(mask($0)) }),
            "service_name": .string(t.serviceName), "sample_ratio": .double(t.sampleRatio),
            "export_interval_ms": .int(t.exportIntervalMs), "export_timeout_s": .double(t.exportTimeoutSeconds), "max_queue": .int(t.maxQueue),
        ])
    }

    static func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    static func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }
}
