#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The process's file-descriptor limit, and how many client connections fit under it.
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard one (as Go's runtime does) and returns the soft limit in force.
    static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
    }

    /// `server.max_connections`, lowered to fit the descriptor limit: every client connection may hold an upstream
    /// connection (a stream, a request waiting for its answer), so client connections get at most half of what is
    /// left after a reserve (a tenth, at least 64) for idle pooled upstream connections, hedged attempts, storage
    /// and files — but never lowered below 16. The gateway stops accepting before descriptors run out (running out
    /// is fatal: libdispatch traps when it cannot open `/proc` files for its worker threads). A configured value is
    /// never raised.
    static func connectionCap(_ configured: Int, logger: Logger) -> Int {
        cap(configured, descriptors: raise(), logger: logger)
    }

    /// `connectionCap` under a descriptor limit of `available`.
    static func cap(_ configured: Int, descriptors available: Int, logger: Logger) -> Int {
        let reserve = max(64, available / 10)
        let cap = min(configured, max(16, (available - reserve) / 2))
        if cap < configured {
            logger.notice("server.max_connections lowered to fit the file-descriptor limit",
                          metadata: ["max_connections": "\(cap)", "fd_limit": "\(available)"])
        }
        return cap
    }

    #if canImport(Glibc)
    private static let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
    #endif
}
