#if canImport(Glibc)
import Glibc
#endif

/// glibc's allocator keeps, per thread, a cache of freed blocks (its tcache) of at most 7 blocks of each size by
/// default. A gateway thread has dozens of requests in flight, each allocating and freeing blocks of the same few sizes
/// in turn, so that cache overflows at once and most `malloc`s and `free`s take the allocator's slow paths (bins,
/// locks, coalescing): 6–7% of a proxied request's CPU. With 256 of each size it holds what the requests in flight
/// free: 6–9% less CPU a request, measured two at a time (docs/benchmark.md). What it may keep is bounded: 256 blocks
/// of each of its 64 sizes (up to 1 kB), at most about 8 MB a thread, far less in practice (the benchmark's peak RSS).
///
/// glibc reads its tunables only when a process starts, from `GLIBC_TUNABLES`: `switchboard serve` started without
/// that variable sets it and executes itself again (same process id, arguments and environment otherwise). When
/// `GLIBC_TUNABLES` is already set, by the operator or by that first start, it is left as it is: set it (even empty)
/// to choose otherwise.
enum MallocTuning {
    static let tunables = "glibc.malloc.tcache_count=256"

    /// For `serve` only; returns when there is nothing to do or when the executable cannot be run again.
    static func applyByRestarting() {
        #if canImport(Glibc)
        let arguments = CommandLine.arguments
        guard arguments.count > 1, arguments[1] == "serve", getenv("GLIBC_TUNABLES") == nil else { return }
        guard setenv("GLIBC_TUNABLES", tunables, 1) == 0 else { return }
        _ = execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: the executable could not be run again (no /proc, say). Go on with the defaults.
        unsetenv("GLIBC_TUNABLES")
        #endif
    }
}
