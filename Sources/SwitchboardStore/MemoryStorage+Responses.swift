import SwitchboardCore
import Synchronization

/// MemoryStorage's stored responses.
final class MemoryResponseState: Sendable {}
