#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scores how likely a prompt is a prompt injection or jailbreak attempt: in-process, pure, no I/O.
///
/// Layers, in order:
/// 1. **Bounds.** A text of up to 16 KiB of UTF-8 is read whole. A longer one is read as its first 8 KiB, four 1 KiB
///    windows evenly spaced through the middle and its last 4 KiB, so a 1 MB prompt costs what a 16 KiB one does.
///    An injection buried in the unread middle of a huge document can be missed; that is the price of the bound.
/// 2. **Normalisation.** ASCII case folded; zero-width, bidi and other invisible characters dropped (Unicode tag
///    characters decoded to the ASCII they hide) and counted; control characters dropped and counted; Cyrillic and
///    Greek look-alikes, full-width, mathematical and circled letters and accented Latin letters folded to ASCII;
///    leetspeak words ("1gn0r3") read as letters; whitespace collapsed.
/// 3. **Signals**, each a reason with a learned non-negative weight: phrase patterns over word classes
///    (``InjectionReason/overrideInstructions``, ``InjectionReason/roleHijack``, ``InjectionReason/jailbreakPersona``,
///    ``InjectionReason/systemPromptExfiltration``, ``InjectionReason/fakeAuthority``,
///    ``InjectionReason/hiddenInstruction``) and byte heuristics (``InjectionReason/specialTokens``,
///    ``InjectionReason/dialogueTurns``, ``InjectionReason/encodedPayload``, ``InjectionReason/invisibleCharacters``,
///    ``InjectionReason/obfuscation``, ``InjectionReason/markdownExfiltration``).
/// 4. **Model.** A logistic regression over the signals and hashed words and word pairs, trained offline on the dev
///    split of `Tests/guardrails/injection-corpus.jsonl` (``InjectionReason/model`` when the n-grams alone push the
///    score up). The word classes, patterns and weights come from the model file.
///
/// The features are byte for byte those of `scripts/guardrails/features.py` and `train_detector.py`; the parity test
/// checks the two compute the same scores. A 2 KB prompt takes about 23 µs and 7 allocations, a 1 MB one about
/// 170 µs (`cd Benchmarks && swift package benchmark --target Injection`; target 50 µs for 2 KB).
public struct InjectionDetector: Sendable {
    public let model: InjectionModel
    /// The score from which ``InjectionScore/isAttack`` holds: the model's default unless given.
    public let threshold: Double

    public init(model: InjectionModel = .embedded, threshold: Double? = nil) {
        self.model = model
        self.threshold = threshold ?? model.threshold
    }

    /// The injection score of a text.
    public func score(_ text: String) -> InjectionScore {
        var text = text
        return text.withUTF8 { score(utf8: $0) }
    }

    /// The injection score of a text given as (valid) UTF-8 bytes.
    public func score(utf8 bytes: UnsafeBufferPointer<UInt8>) -> InjectionScore {
        let windows = Self.windows(bytes)
        let capacity = windows.reduce(16) { $0 + $1.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { out in
            let text = NormalisedText(bytes, windows: windows, into: out)
            let normalised = UnsafeBufferPointer(rebasing: out[0..<text.count])
            return withUnsafeTemporaryAllocation(of: ClassHit.self, capacity: text.count / 2 + 1) { hits in
                score(raw: bytes, windows: windows, text: text, normalised: normalised, hits: hits)
            }
        }
    }

    private func score(
        raw: UnsafeBufferPointer<UInt8>, windows: [Range<Int>], text: NormalisedText,
        normalised: UnsafeBufferPointer<UInt8>, hits: UnsafeMutableBufferPointer<ClassHit>
    ) -> InjectionScore {
        let words = model.hashed.withUnsafeBufferPointer { table in
            WordScan(normalised, table: table, bits: model.bits, vocabulary: model.vocabulary, hits: hits)
        }
        var fired = [Bool](repeating: false, count: model.reasons.count)
        let classHits = UnsafeBufferPointer(rebasing: hits[0..<words.hitCount])
        for pattern in model.patterns where !fired[pattern.reason] {
            if Self.matches(pattern, classHits) { fired[pattern.reason] = true }
        }
        let heuristics: [(Heuristic, Bool)] = [
            (.specialTokens, Self.hasSpecialToken(normalised)),
            (.dialogueTurns, Self.dialogueTurns(normalised) >= 2),
            (.encodedPayload, windows.contains { Self.hasEncodedRun(UnsafeBufferPointer(rebasing: raw[$0])) }),
            (.invisibleCharacters, text.invisible + text.controls >= 2),
            (.obfuscation, text.obfuscatedWords + words.leetWords >= 2),
            (.markdownExfiltration, Self.hasMarkdownExfiltration(normalised)),
        ]
        for (heuristic, hit) in heuristics where hit { fired[model.heuristicIndex[heuristic]!] = true }

        var logit = model.bias
        var reasons: [InjectionReason] = []
        for i in fired.indices where fired[i] {
            logit += model.reasonWeights[i]
            if model.reasonWeights[i] > 0 { reasons.append(model.reasons[i]) }
        }
        let ngrams = model.hashScale * Double(words.sum) / Double(max(words.features, 1)).squareRoot()
        logit += max(ngrams, model.ngramFloor)
        if ngrams >= model.modelMargin { reasons.append(.model) }
        let score = 1 / (1 + exp(-logit))
        return InjectionScore(score: score, isAttack: score >= threshold, reasons: reasons)
    }
}

/// The verdict on one text.
public struct InjectionScore: Sendable, Equatable {
    /// How likely the text is an injection or jailbreak attempt, 0...1.
    public let score: Double
    /// Whether ``score`` reached the detector's threshold.
    public let isAttack: Bool
    /// The signals that fired (each raised the score), in a stable order; ``InjectionReason/model`` last.
    public let reasons: [InjectionReason]
}

/// A short, stable name for a signal that raised a score: safe as a metric label or log field.
public struct InjectionReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// "Ignore all previous instructions", "new instructions:", "do not follow the rules".
    public static let overrideInstructions = InjectionReason(rawValue: "override_instructions")
    /// "You are now …", "from now on", "stay in character".
    public static let roleHijack = InjectionReason(rawValue: "role_hijack")
    /// DAN, developer mode, "do anything now", "without any restrictions", "never refuse".
    public static let jailbreakPersona = InjectionReason(rawValue: "jailbreak_persona")
    /// "Print your system prompt", "repeat the text above".
    public static let systemPromptExfiltration = InjectionReason(rawValue: "system_prompt_exfiltration")
    /// "SYSTEM OVERRIDE", "admin directive", "I am your developer".
    public static let fakeAuthority = InjectionReason(rawValue: "fake_authority")
    /// Text addressed to the model inside a document: "note to the AI assistant".
    public static let hiddenInstruction = InjectionReason(rawValue: "hidden_instruction")
    /// Chat-template tokens: `<|im_start|>`, `[INST]`, `<<SYS>>`, `### System:`.
    public static let specialTokens = InjectionReason(rawValue: "special_tokens")
    /// Two or more lines that start like chat turns ("User:", "Assistant:", "System:").
    public static let dialogueTurns = InjectionReason(rawValue: "dialogue_turns")
    /// A run of at least 40 base64 (mixed case and digits) or hex characters.
    public static let encodedPayload = InjectionReason(rawValue: "encoded_payload")
    /// Two or more invisible, tag or control characters.
    public static let invisibleCharacters = InjectionReason(rawValue: "invisible_characters")
    /// Two or more words in leetspeak, mixed-script look-alikes or styled letters.
    public static let obfuscation = InjectionReason(rawValue: "obfuscation")
    /// A markdown image or link whose URL carries a query string.
    public static let markdownExfiltration = InjectionReason(rawValue: "markdown_exfiltration")
    /// The learned word and word-pair weights alone pushed the score up.
    public static let model = InjectionReason(rawValue: "model")
}

/// A word that belongs to at least one word class: its position among the words and its class mask.
struct ClassHit {
    var index: Int32
    var mask: UInt64
}
