// The text an experiment was read from, for locations and caret displays: the file itself, the
// files it `extends`, and `--set` arguments, each one part. A part after the first is composed
// below as many blank lines as the parts before it have lines (`lineOffset`), so every node of
// the merged tree has a line number of its own, and the part an error points into follows from it.
import Yams

final class SourceText: Sendable {
    struct Part: Sendable {
        /// The file's path, or "--set" for a command-line setting.
        let path: String
        /// Lines of the parts before this one: a mark's line minus this is the line in the part.
        let lineOffset: Int
        let lines: [String]
    }

    let parts: [Part]
    /// The experiment file itself (the first part).
    var path: String { parts[0].path }
    /// The line offset of a part added after the last one.
    var nextOffset: Int { parts.last.map { $0.lineOffset + $0.lines.count } ?? 0 }

    init(path: String, text: String) {
        parts = [Part(path: path, lineOffset: 0, lines: Self.lines(text))]
    }

    init(parts: [Part]) {
        precondition(!parts.isEmpty)
        self.parts = parts
    }

    /// `self` with `text` from `path` as one more part.
    func adding(path: String, text: String) -> SourceText {
        SourceText(parts: parts + [Part(path: path, lineOffset: nextOffset, lines: Self.lines(text))])
    }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
    }

    /// The part holding line `line` of the merged numbering, and the line's number in it.
    private func place(_ line: Int) -> (part: Part, line: Int) {
        let part = parts.last { $0.lineOffset < line } ?? parts[0]
        return (part, line - part.lineOffset)
    }

    func location(_ mark: Mark?) -> SourceLocation? {
        mark.map {
            let (part, line) = place($0.line)
            return SourceLocation(file: part.path, line: line, column: $0.column)
        }
    }

    func line(_ mark: Mark?) -> String? {
        guard let mark else { return nil }
        let (part, line) = place(mark.line)
        return line >= 1 && line <= part.lines.count ? part.lines[line - 1] : nil
    }

    /// Line `number` of the first part.
    func line(at number: Int) -> String? {
        let lines = parts[0].lines
        return number >= 1 && number <= lines.count ? lines[number - 1] : nil
    }

    /// Where `key` is written again in the mapping whose key at `first` it duplicates: later in the
    /// same flow mapping (`{epochs: 5, epochs: 3}`) or on a later line at the same indentation
    /// before the mapping ends. Nil when it cannot be found by this simple reading. (First part.)
    func repeated(key: String, after first: SourceLocation) -> SourceLocation? {
        guard let head = line(at: first.line), !key.isEmpty else { return nil }
        let word = Array(key.unicodeScalars)
        func isKey(_ text: [Unicode.Scalar], at i: Int) -> Bool {
            guard i + word.count <= text.count, Array(text[i..<i + word.count]) == word else { return false }
            return text[(i + word.count)...].first { $0 != " " } == ":"
        }
        let scalars = Array(head.unicodeScalars)
        var i = first.column - 1 + word.count
        while i < scalars.count {
            let before = scalars[..<i].last { $0 != " " }
            if before == "," || before == "{", isKey(scalars, at: i) {
                return SourceLocation(file: path, line: first.line, column: i + 1)
            }
            i += 1
        }
        let indent = first.column - 1
        for number in (first.line + 1)...max(first.line + 1, parts[0].lines.count) {
            guard let text = line(at: number) else { break }
            let scalars = Array(text.unicodeScalars)
            let spaces = scalars.prefix { $0 == " " }.count
            if spaces == scalars.count || scalars[spaces] == "#" { continue }
            if spaces < indent { break }
            if spaces == indent, isKey(scalars, at: spaces) {
                return SourceLocation(file: path, line: number, column: spaces + 1)
            }
        }
        return nil
    }

    func error(at mark: Mark?, path: [any CodingKey], _ message: String, hint: String? = nil) -> ExperimentError {
        ExperimentError(location: location(mark), keyPath: keyPath(path), message: message, hint: hint,
                        sourceLine: line(mark))
    }

    /// The YAML tree of the last part, composed at its place in the merged numbering: `text`
    /// composed below `lineOffset` blank lines, with `indent` spaces before it on its first line
    /// (a `--set` value, whose columns are those of the whole argument). Nil for an empty text.
    /// A syntax error is reported in the part's own lines.
    func composeLast(_ text: String, indent: Int = 0) throws -> Node? {
        let part = parts[parts.count - 1]
        let padding = String(repeating: " ", count: indent)
        do {
            return try Yams.compose(yaml: String(repeating: "\n", count: part.lineOffset) + padding + text)
        } catch let error as YamlError {
            // Again on its own, for marks in the part's numbering.
            let alone = SourceText(parts: [Part(path: part.path, lineOffset: 0, lines: part.lines)])
            do {
                _ = try Yams.compose(yaml: padding + text)
            } catch let again as YamlError {
                throw ExperimentSpec.syntaxError(again, source: alone)
            }
            throw ExperimentSpec.syntaxError(error, source: alone)
        }
    }
}
