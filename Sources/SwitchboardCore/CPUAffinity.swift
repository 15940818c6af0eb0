/// Counts the CPUs in a Linux CPU list such as "0-3,8,10-11" (as in `Cpus_allowed_list` of /proc/self/status).
public func countCPUList(_ list: Substring) -> Int? {
    var total = 0
    for part in list.split(separator: ",") {
        let bounds = part.trimmingPrefixWhitespace().split(separator: "-")
        guard let lo = Int(bounds[0]) else { return nil }
        if bounds.count == 2 {
            guard let hi = Int(bounds[1]), hi >= lo else { return nil }
            total += hi - lo + 1
        } else if bounds.count == 1 {
            total += 1
        } else {
            return nil
        }
    }
    return total > 0 ? total : nil
}

/// The number of CPUs this process may run on (its affinity mask, e.g. under `taskset`), from /proc; nil elsewhere.
public func allowedCPUCount(procStatus: String) -> Int? {
    guard let line = procStatus.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
    return countCPUList(line.dropFirst("Cpus_allowed_list:".count))
}

extension Substring {
    fileprivate func trimmingPrefixWhitespace() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
