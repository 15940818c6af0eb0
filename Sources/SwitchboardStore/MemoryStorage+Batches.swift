import SwitchboardCore
import Synchronization

/// MemoryStorage's files and batches.
final class MemoryBatchState: Sendable {}
