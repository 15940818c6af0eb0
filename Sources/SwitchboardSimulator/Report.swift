import Foundation
import SwitchboardCore

/// The simulator's table: one row per policy, the oracle first.
public enum SimulationReport {
    public static func render(_ results: [SimulationResult], scenario: Scenario, model: String, wallSeconds: Double) -> String {
        let requests = results.first?.requests ?? 0
        var lines: [String] = []
        lines.append("scenario: \(scenario.name) — model \(model), \(fmt(scenario.durationSeconds)) s of traffic at \(fmt(scenario.ratePerSecond)) req/s (warm-up \(fmt(scenario.warmupSeconds)) s left out, ~\(requests) requests per run)")
        let oracleP99 = results.first { $0.policy == "oracle" }?.p99Ms
        let showRecovery = scenario.watch != nil
        var header = ["policy", "p50 ms", "p99 ms", "p99/oracle", "errors", "error %", "cost USD", "attempts/req", "share"]
        if showRecovery { header.insert("back after s", at: 8) }
        var rows: [[String]] = [header]
        for r in results {
            let share = r.share.sorted { $0.key < $1.key }.map { "\($0.key) \(Int(($0.value * 100).rounded()))%" }.joined(separator: ", ")
            var row = [
                r.policy, fmt(r.p50Ms), fmt(r.p99Ms),
                oracleP99.map { $0 > 0 ? String(format: "%.2f×", r.p99Ms / $0) : "-" } ?? "-",
                String(r.errors), String(format: "%.2f", r.errorRate * 100), String(format: "%.4f", r.costUSD),
                String(format: "%.2f", r.attemptsPerRequest), share,
            ]
            if showRecovery {
                let back = r.recoverySeconds.map { s in
                    "\(fmt(s))" + (r.backoffAtRecoverySeconds.map { " (back-off \(fmt($0)))" } ?? "")
                } ?? (r.policy == "oracle" ? "-" : "never")
                row.insert(back, at: 8)
            }
            rows.append(row)
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        for (i, row) in rows.enumerated() {
            let cells = row.enumerated().map { c, cell in
                c == 0 || c == row.count - 1 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }
            lines.append(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            if i == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        for r in results where !r.failures.isEmpty {
            lines.append("\(r.policy) errors: " + r.failures.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }.joined(separator: ", "))
        }
        lines.append("(simulated in \(String(format: "%.2f", wallSeconds)) s of wall time)")
        return lines.joined(separator: "\n")
    }

    static func fmt(_ v: Double) -> String {
        if v >= 100 || v == v.rounded() { return String(Int(v.rounded())) }
        return String(format: "%.1f", v)
    }
}
