import SwitchboardCore

/// The learned weights of the task-difficulty classifier, read from the `.sbdc` format that
/// `scripts/router/train_classifier.py` writes (its module doc describes the layout and the training).
///
/// The built-in model is embedded in the binary (``embedded``); `switchboard router score --classifier FILE` loads
/// another file of the same format with ``init(bytes:)``.
public struct DifficultyModel: Sendable {
    /// Number of hash bits: the hashed table has `1 << bits` weights.
    public let bits: Int
    let bias: Double
    /// Weights of the dense features in `features.py`'s `DENSE_NAMES` order: log1p of the byte, word, number, line
    /// and symbol counts of a free-form prompt, the same of a multiple-choice one, the multiple-choice flag, then
    /// log1p of each ``DifficultyCues`` count.
    let denseWeights: [Double]
    let hashScale: Double
    /// Quantised hashed weights; weight = value × ``hashScale``.
    let hashed: [Int8]
    /// (share of strong-only quality, score threshold) pairs, ascending by quality.
    public let calibration: [(quality: Double, threshold: Double)]

    /// The counts (bytes, words, numbers, lines, symbols) weighted once for free-form and once for multiple choice.
    static let countFeatures = 5
    static let denseCount = 2 * countFeatures + 1 + DifficultyCues.count
    static let version: UInt32 = 3

    /// Parses a model file; throws when it is not one (wrong magic, version or sizes).
    public init(bytes: [UInt8]) throws(DifficultyModelError) {
        var reader = ByteReader(bytes: bytes)
        guard bytes.count >= 4, Array(bytes[0..<4]) == Array("SBDC".utf8) else { throw .init("not a difficulty model (bad magic)") }
        reader.offset = 4
        let version = try reader.u32()
        guard version == Self.version else { throw .init("unsupported model version \(version)") }
        let bits = Int(try reader.u32())
        guard (4...24).contains(bits) else { throw .init("hash bits \(bits) out of range 4...24") }
        let dense = Int(try reader.u32())
        guard dense == Self.denseCount else { throw .init("expected \(Self.denseCount) dense features, found \(dense)") }
        bias = Double(try reader.f32())
        var denseWeights: [Double] = []
        for _ in 0..<dense { denseWeights.append(Double(try reader.f32())) }
        self.denseWeights = denseWeights
        hashScale = Double(try reader.f32())
        let count = Int(try reader.u32())
        guard count <= 1000 else { throw .init("calibration table too long (\(count))") }
        var calibration: [(quality: Double, threshold: Double)] = []
        for _ in 0..<count { calibration.append((Double(try reader.f32()), Double(try reader.f32()))) }
        self.calibration = calibration
        let size = 1 << bits
        guard bytes.count - reader.offset == size else {
            throw .init("expected \(size) hashed weights, found \(bytes.count - reader.offset) bytes")
        }
        hashed = bytes[reader.offset...].map { Int8(bitPattern: $0) }
        self.bits = bits
    }

    /// The model built into the binary (decoded once, on first use).
    public static let embedded: DifficultyModel = {
        guard let bytes = Base64.decode(embeddedBase64) else { fatalError("embedded difficulty model: bad base64") }
        do { return try DifficultyModel(bytes: bytes) } catch { fatalError("embedded difficulty model: \(error)") }
    }()

    /// The score threshold that reached `quality` (a share of strong-only quality, e.g. 0.95) on every benchmark of
    /// the training data in cross-validation: route to the strong model when the score is at least this.
    /// Targets between table entries take the next higher one; above the table, everything goes to the strong model.
    public func threshold(forQuality quality: Double) -> Double {
        for entry in calibration where entry.quality >= quality - 1e-9 { return entry.threshold }
        return -.infinity
    }
}

/// Why a model file could not be read.
public struct DifficultyModelError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Little-endian reads over a byte array.
private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func u32() throws(DifficultyModelError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw .init("truncated model file") }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[offset + i]) << (8 * i) }
        offset += 4
        return value
    }

    mutating func f32() throws(DifficultyModelError) -> Float { Float(bitPattern: try u32()) }
}

