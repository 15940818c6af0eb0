import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MetricsTestKit
import NIOCore
import SwitchboardCore
@testable import SwitchboardRouting
@testable import SwitchboardServer
import SwitchboardTesting
import Testing

/// Live configuration reload (ConfigReload.swift): `POST /admin/config/reload` re-reads the file; new requests see
/// the new configuration, running ones finish on the old engine, unchanged deployments keep their state, an invalid
/// file changes nothing.
@Suite struct ConfigReloadTests {
    /// A configuration file of its own for one test.
    final class ConfigFile: Sendable {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString).yaml").path
        func write(_ yaml: String) throws { try yaml.write(toFile: path, atomically: true, encoding: .utf8) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func mock(models: String, keys: String = #"- { name: tester, key: "sk-test" }"#, providers: String? = nil) -> String {
        """
        auth:
          master_key: "sk-master"
          keys:
            \(keys)
        providers:
        \(providers ?? "  - { name: sim-a, kind: mock, seed: 1 }\n  - { name: sim-b, kind: mock, seed: 2 }")
        models:
        \(models)
        """
    }

    /// Runs the gateway on `yaml`, read from a file that the test may rewrite and reload.
    static func withReloadable(_ yaml: String, mode: TestingSetup = .router, clock: ManualClock? = nil, metrics: TestMetrics? = nil,
                               _ body: @Sendable (GatewayHarness, ConfigFile) async throws -> Void) async throws {
        let file = ConfigFile()
        try file.write(yaml)
        try await withGateway(yaml, mode: mode, clock: clock, metrics: metrics) { h in
            var services = h.services
            services.configSource = file.path
            // The harness listens on port 0 whatever the file says.
            services.reloader.adjustEachLoad { $0.server.port = 0 }
            try await body(h, file)
        }
    }

    static func reload(_ h: GatewayHarness) async throws -> (status: HTTPResponse.Status, json: [String: Any]) {
        let r = try await h.post("/admin/config/reload", "", key: "sk-master")
        return (r.status, try r.json())
    }

    static func modelIDs(_ h: GatewayHarness, key: String = "sk-test") async throws -> [String] {
        let r = try await h.get("/v1/models", key: key)
        return ((try r.json()["data"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
    }

    static func chat(_ model: String, stream: Bool = false) -> String {
        #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#
    }

    @Test func aReloadAddsAndRemovesModels() async throws {
        let before = Self.mock(models: "  - { name: demo, deployments: [ { provider: sim-a, model: a-1 } ] }\n  - { name: old-model, deployments: [ { provider: sim-b, model: b-1 } ] }")
        try await Self.withReloadable(before) { h, file in
            #expect(try await Self.modelIDs(h) == ["demo", "old-model"])
            try file.write(Self.mock(models: "  - { name: demo, deployments: [ { provider: sim-a, model: a-1 } ] }\n  - { name: new-model, deployments: [ { provider: sim-b, model: b-2 } ] }"))
            let (status, json) = try await Self.reload(h)
            #expect(status == .ok)
            #expect(json["status"] as? String == "reloaded")
            #expect(json["version"] as? Int == 2)
            #expect((json["hash"] as? String)?.count == 64)
            let models = (json["changed"] as? [String: Any])?["models"] as? [String: [String]]
            #expect(models?["added"] == ["new-model"] && models?["removed"] == ["old-model"] && models?["changed"] == [])
            #expect(json["needs_restart"] as? [String] == [])
            #expect(try await Self.modelIDs(h) == ["demo", "new-model"])
            #expect(try await h.post("/v1/chat/completions", Self.chat("new-model")).status == .ok)
            #expect(try await h.post("/v1/chat/completions", Self.chat("old-model")).status == .notFound)
            // `/admin/config` shows the configuration in force and where it came from.
            let config = try await h.get("/admin/config", key: "sk-master").json()
            #expect(config["source"] as? String == file.path && config["version"] as? Int == 2 && config["hash"] as? String == json["hash"] as? String)
            #expect(((config["models"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["demo", "new-model"])
        }
    }

    @Test func anInvalidFileIsRejectedWithChecksProblemsAndTheOldConfigStays() async throws {
        let good = Self.mock(models: "  - { name: demo, deployments: [ { provider: sim-a, model: a-1 } ] }")
        let metrics = TestMetrics()
        try await Self.withReloadable(good, metrics: metrics) { h, file in
            let bad = Self.mock(models: "  - { name: demo, deployments: [ { provider: sim-c, model: a-1 } ] }\n  - { name: other, balancing: fastest, deployments: [] }")
            try file.write(bad)
            let expected: [ConfigProblem]
            do { _ = try ConfigLoader.load(yaml: bad, environment: [:]); expected = [] } catch let e as ConfigError { expected = e.problems } catch { expected = [] }
            #expect(expected.count >= 2)
            let (status, json) = try await Self.reload(h)
            #expect(status == .badRequest)
            #expect(json["status"] as? String == "rejected" && json["version"] as? Int == 1)
            let problems = (json["problems"] as? [[String: String]]) ?? []
            #expect(problems.map { ConfigProblem(path: $0["path"] ?? "", message: $0["message"] ?? "") } == expected)
            #expect(problems.contains { $0["path"] == "models[0].deployments[0].provider" })
            #expect(((json["error"] as? [String: Any])?["code"] as? String) == "invalid_config")
            // Still serving the old configuration.
            #expect(try await h.post("/v1/chat/completions", Self.chat("demo")).status == .ok)
            #expect(try await Self.modelIDs(h) == ["demo"])
            #expect(try metrics.expectCounter("switchboard_config_reloads_total", [("result", "rejected")]).totalValue == 1)
            #expect(try metrics.expectGauge("switchboard_config_last_reload_successful").lastValue == 0)
            // A file that cannot be read is a problem too.
            try FileManager.default.removeItem(atPath: file.path)
            let (gone, goneJSON) = try await Self.reload(h)
            #expect(gone == .badRequest && ((goneJSON["problems"] as? [[String: String]])?.first?["message"] ?? "").contains(file.path))
        }
    }

    @Test func unchangedDeploymentsKeepTheirStateAndChangedOnesStartFresh() async throws {
        let models = "  - { name: chat, balancing: p2c-ewma, deployments: [ { provider: sim-a, model: a-1 }, { provider: sim-b, model: b-1 } ] }"
        let clock = ManualClock()
        try await Self.withReloadable(Self.mock(models: models), clock: clock) { h, file in
            let old = h.services.gateway.table
            let (a, b) = (old.slotNames.firstIndex(of: "sim-a/a-1")!, old.slotNames.firstIndex(of: "sim-b/b-1")!)
            for _ in 0..<5 { old.health.failed(a); old.health.failed(b) }
            for i in 0..<25 { old.latency.add(a, ms: Double(80 + i)); old.latency.add(b, ms: Double(80 + i)) }
            let balancer = try #require(old.models["chat"]?.balancer as? LoadAwareBalancer)
            balancer.answered(0, latencyMs: 100)
            balancer.answered(1, latencyMs: 100)
            // sim-b's simulated behaviour changes: its deployment is another one now.
            try file.write(Self.mock(models: models, providers: "  - { name: sim-a, kind: mock, seed: 1 }\n  - { name: sim-b, kind: mock, seed: 3 }"))
            #expect(try await Self.reload(h).status == .ok)
            let new = h.services.gateway.table
            #expect(new !== old)
            let (na, nb) = (new.slotNames.firstIndex(of: "sim-a/a-1")!, new.slotNames.firstIndex(of: "sim-b/b-1")!)
            #expect(new.health.snapshot[na] == old.health.snapshot[a])
            #expect(new.health.snapshot[na].ejections == 1)
            #expect(new.health.events[na] == old.health.events[a])
            #expect(new.health.snapshot[nb].state == .closed(consecutiveFailures: 0) && new.health.snapshot[nb].ejections == 0)
            #expect(new.health.events[nb].isEmpty)
            #expect(new.health.available([na, nb]) == [nb])
            #expect(new.latency.percentile(na, 50) != nil && new.latency.percentile(na, 50) == old.latency.percentile(a, 50))
            #expect(new.latency.percentile(nb, 50) == nil)
            let load = try #require((new.models["chat"]?.balancer as? LoadAwareBalancer)?.load)
            let ia = new.models["chat"]!.deployments.firstIndex { $0.slot == na }!
            let ib = new.models["chat"]!.deployments.firstIndex { $0.slot == nb }!
            #expect(load.ewmaMs[ia] == 100 && load.ewmaMs[ib] == nil)
            let changed = try await h.get("/admin/config", key: "sk-master").json()
            #expect(changed["version"] as? Int == 2)
        }
    }

    @Test func aStreamStartedBeforeTheReloadFinishesOnTheOldProvider() async throws {
        let gate = Gate()
        try await FakeUpstream.run({ request in
            let who = provider(of: request)
            return sseReply { send in
                try await send(Wire.chunk("\(who)-first"))
                if who == "up1" { await gate.wait() }
                try await send(Wire.chunk("\(who)-second", finish: "stop"))
                try await send(Wire.done)
            }
        }) { fake in
            @Sendable func yaml(_ chat: String) -> String {
                """
                auth: { master_key: "sk-master", keys: [ { name: tester, key: "sk-test" } ] }
                providers:
                  - { name: up1, kind: openai, base_url: "\(fake.baseURL)", api_key: "sk-provider-1" }
                  - { name: up2, kind: openai, base_url: "\(fake.baseURL)", api_key: "sk-provider-2" }
                models:
                \(chat)
                  - { name: kept, deployments: [ { provider: up1, model: up-model-1, max_concurrent: 4 } ] }
                """
            }
            let before = yaml("  - { name: chat, deployments: [ { provider: up1, model: up-model-1, max_concurrent: 4 } ] }")
            try await Self.withReloadable(before, mode: .live) { h, file in
                let client = HTTPClient(eventLoopGroupProvider: .singleton)
                defer { _ = client.shutdown() }
                let port = h.client.port!
                let oldTable = h.services.gateway.table
                let firstSeen = Gate()
                let reader = Task {
                    let response = try await openStream(client, port: port, body: Self.chat("chat", stream: true))
                    var received = ""
                    for try await chunk in response.body {
                        received += String(buffer: chunk)
                        if received.contains("up1-first") { firstSeen.open() }
                    }
                    return received
                }
                try await within(10) { await firstSeen.wait() }
                // The stream is running on up1: now `chat` moves to up2.
                try file.write(yaml("  - { name: chat, deployments: [ { provider: up2, model: up-model-2 } ] }"))
                #expect(try await Self.reload(h).status == .ok)
                let newTable = h.services.gateway.table
                let slot = try #require(newTable.slotNames.firstIndex(of: "up1/up-model-1"))
                // The running stream is counted by the new engine too (the deployment kept its in-flight count).
                #expect(newTable.capacity.snapshot(slot).inFlight == 1)
                let fresh = try await h.post("/v1/chat/completions", Self.chat("chat", stream: true))
                #expect(fresh.text.contains("up2-first") && fresh.text.contains("up2-second") && !fresh.text.contains("up1"))
                gate.open()
                let received = try await within(10) { try await reader.value }
                #expect(received.contains("up1-second") && !received.contains("up2"))
                #expect(fake.requests.map(provider) == ["up1", "up2"])
                // Once the old stream ended, both engines count nothing in flight.
                var records: [RequestRecord] = []
                while records.count < 2 { records = try await h.records(); await Task.yield() }
                #expect(oldTable.capacity.snapshot(oldTable.slotNames.firstIndex(of: "up1/up-model-1")!).inFlight == 0)
                #expect(newTable.capacity.snapshot(slot).inFlight == 0)
            }
        }
    }

    @Test func staticKeysFollowTheReload() async throws {
        let models = "  - { name: demo, deployments: [ { provider: sim-a, model: a-1 } ] }"
        try await Self.withReloadable(Self.mock(models: models)) { h, file in
            #expect(try await h.get("/v1/models", key: "sk-test").status == .ok)
            #expect(try await h.get("/v1/models", key: "sk-added").status == .unauthorized)
            try file.write(Self.mock(models: models, keys: #"- { name: added, key: "sk-added" }"#))
            let (status, json) = try await Self.reload(h)
            #expect(status == .ok)
            let keys = (json["changed"] as? [String: Any])?["keys"] as? [String: [String]]
            #expect(keys?["added"] == ["added"] && keys?["removed"] == ["tester"])
            #expect(!String(describing: json).contains("sk-added"))
            #expect(try await h.get("/v1/models", key: "sk-added").status == .ok)
            #expect(try await h.get("/v1/models", key: "sk-test").status == .unauthorized)
            #expect(try await h.get("/v1/models", key: "sk-master").status == .ok)
        }
    }

    @Test func metricsShowTheHashVersionAndResults() async throws {
        let models = "  - { name: demo, deployments: [ { provider: sim-a, model: a-1 } ] }"
        let metrics = TestMetrics()
        try await Self.withReloadable(Self.mock(models: models), metrics: metrics) { h, file in
            let first = try await h.get("/admin/config", key: "sk-master").json()["hash"] as? String ?? ""
            #expect(first.count == 64)
            #expect(try metrics.expectGauge("switchboard_config_info", [("hash", first)]).lastValue == 1)
            #expect(try metrics.expectGauge("switchboard_config_version").lastValue == 1)
            try file.write(Self.mock(models: models + "\n  - { name: more, deployments: [ { provider: sim-b, model: b-1 } ] }"))
            let (_, json) = try await Self.reload(h)
            let second = try #require(json["hash"] as? String)
            #expect(second != first)
            #expect(try metrics.expectGauge("switchboard_config_info", [("hash", second)]).lastValue == 1)
            #expect(try metrics.expectGauge("switchboard_config_version").lastValue == 2)
            #expect(try metrics.expectGauge("switchboard_config_last_reload_successful").lastValue == 1)
            #expect((try metrics.expectGauge("switchboard_config_last_reload_success_timestamp_seconds").lastValue ?? 0) > 1_000_000_000)
            try file.write("models: [")
            _ = try await Self.reload(h)
            #expect(try metrics.expectCounter("switchboard_config_reloads_total", [("result", "ok")]).totalValue == 1)
            #expect(try metrics.expectCounter("switchboard_config_reloads_total", [("result", "rejected")]).totalValue == 1)
            #expect(try metrics.expectGauge("switchboard_config_version").lastValue == 2)
        }
    }

    @Test func restartOnlySettingsAreListedAndKept() async throws {
        let models = "  - { name: demo, deployments: [ { provider: sim-a, model: a-1 } ] }"
        try await Self.withReloadable("server: { max_body_bytes: 1000 }\n" + Self.mock(models: models)) { h, file in
            try file.write("server: { max_body_bytes: 2000, max_in_flight: 7 }\nstorage: \"sqlite:elsewhere.db\"\n" + Self.mock(models: models))
            let (status, json) = try await Self.reload(h)
            #expect(status == .ok)
            #expect(json["needs_restart"] as? [String] == ["server.max_body_bytes", "storage"])
            #expect(h.services.reloader.config.server.maxBodyBytes == 1000 && h.services.gatewayGate != nil)
            let shown = try await h.get("/admin/config", key: "sk-master").json()
            #expect(shown["needs_restart"] as? [String] == ["server.max_body_bytes", "storage"])
        }
    }

    @Test func theDemoConfigurationReloadsToItself() async throws {
        try await withGateway(DemoConfig.yaml) { h in
            var services = h.services
            services.configSource = ConfigReport.demoSource
            services.reloader.adjustEachLoad { $0.server.port = 0 }
            let r = try await h.post("/admin/config/reload", "", key: DemoConfig.adminKey)
            let json = try r.json()
            #expect(r.status == .ok && json["status"] as? String == "reloaded" && json["source"] as? String == ConfigReport.demoSource)
            #expect((json["note"] as? String)?.contains("reloads to itself") == true)
            let changed = json["changed"] as? [String: Any]
            #expect((changed?["models"] as? [String: [String]])?.values.allSatisfy(\.isEmpty) == true)
        }
    }
}
