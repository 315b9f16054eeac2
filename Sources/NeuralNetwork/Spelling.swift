// "Did you mean …?" for every name a user types: layer types, keys, optimizers, datasets.

public enum Spelling {
    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo
    /// (at most a third of the word's length, and at least 1 edit allowed; case is ignored).
    public static func nearest(to word: String, among candidates: some Sequence<String>) -> String? {
        let target = Array(word.lowercased())
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let d = distance(target, Array(candidate.lowercased()))
            if d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        guard let best else { return nil }
        return best.distance <= max(2, target.count / 3) ? best.name : nil
    }

    /// Levenshtein distance (insertions, deletions, substitutions each cost 1).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// "did you mean 'dense'? known: activation, dense, dropout, flatten" — the hint line for an
    /// unknown name.
    public static func hint(for word: String, among candidates: [String], kind: String) -> String {
        let known = "known \(kind): " + candidates.sorted().joined(separator: ", ")
        if let near = nearest(to: word, among: candidates) {
            return "did you mean '\(near)'? \(known)"
        }
        return known
    }
}
