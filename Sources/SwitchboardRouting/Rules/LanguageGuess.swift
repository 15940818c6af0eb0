/// A quick guess of a text's language (ISO 639-1), for routing rules: by script for non-Latin writing, by the
/// commonest short words for languages written in Latin letters. Reads at most the first 2,000 characters.
/// Nil when the text gives too little to go on.
public enum LanguageGuess {
    /// Languages written in Latin letters that can be told apart by their commonest words.
    static let stopwords: [(code: String, words: Set<String>)] = [
        ("en", ["the", "and", "is", "are", "of", "to", "in", "that", "it", "what", "how", "with", "for", "this", "you", "can", "please", "was", "be"]),
        ("de", ["der", "die", "das", "und", "ist", "nicht", "ein", "eine", "ich", "wie", "mit", "für", "auf", "zu", "sie", "den", "bitte", "was"]),
        ("fr", ["le", "la", "les", "et", "est", "une", "un", "des", "pas", "que", "qui", "pour", "dans", "je", "vous", "avec", "sur", "comment"]),
        ("es", ["el", "la", "los", "las", "y", "es", "una", "un", "que", "por", "para", "con", "del", "cómo", "qué", "se", "no", "está"]),
        ("it", ["il", "lo", "la", "gli", "e", "è", "una", "un", "che", "per", "con", "del", "della", "non", "come", "sono", "di", "mi"]),
        ("pt", ["o", "os", "a", "as", "e", "é", "uma", "um", "que", "para", "com", "do", "da", "não", "como", "em", "se", "você"]),
        ("nl", ["de", "het", "een", "en", "is", "van", "niet", "dat", "ik", "je", "met", "voor", "op", "hoe", "wat", "zijn", "te", "ook"]),
    ]

    public static func detect(_ text: String) -> String? {
        var scripts: [String: Int] = [:]
        var latin = 0
        var word = ""
        var counts = [Int](repeating: 0, count: stopwords.count)
        func endWord() {
            guard !word.isEmpty else { return }
            for (i, entry) in stopwords.enumerated() where entry.words.contains(word) { counts[i] += 1 }
            word = ""
        }
        for ch in text.prefix(2000) {
            guard let scalar = ch.unicodeScalars.first else { continue }
            let v = scalar.value
            if let script = script(of: v) {
                scripts[script, default: 0] += 1
                endWord()
            } else if ch.isLetter {
                latin += 1
                word += ch.lowercased()
            } else {
                endWord()
            }
        }
        endWord()
        // Japanese mixes kana with Han characters: any kana makes it Japanese.
        if let kana = scripts["ja"], kana > 0 { return "ja" }
        if let (script, n) = scripts.max(by: { $0.value < $1.value }), n >= max(2, latin / 2) { return script }
        guard let best = counts.indices.max(by: { counts[$0] < counts[$1] }), counts[best] > 0 else { return nil }
        // A tie between the top two is no guess.
        if counts.filter({ $0 == counts[best] }).count > 1 { return nil }
        return stopwords[best].code
    }

    /// The language a character's script points to, for scripts that mostly belong to one language.
    static func script(of v: UInt32) -> String? {
        switch v {
        case 0x3040...0x30FF: "ja"                          // Hiragana, Katakana
        case 0x4E00...0x9FFF, 0x3400...0x4DBF: "zh"         // CJK ideographs
        case 0xAC00...0xD7AF, 0x1100...0x11FF: "ko"         // Hangul
        case 0x0400...0x04FF: "ru"                          // Cyrillic
        case 0x0600...0x06FF: "ar"                          // Arabic
        case 0x0900...0x097F: "hi"                          // Devanagari
        case 0x0370...0x03FF: "el"                          // Greek
        case 0x0590...0x05FF: "he"                          // Hebrew
        case 0x0E00...0x0E7F: "th"                          // Thai
        default: nil
        }
    }
}
