// User errors in experiment files and command lines: what, where (file:line:column and key path),
// what was expected, what was found, and a hint — printed the way compilers print errors, with
// the offending line and a caret under the column.

/// A position in an experiment file (1-based line and column, columns in Unicode scalars).
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    public var description: String { "\(file):\(line):\(column)" }
}

/// An error the user can fix: the command exits with status 64 (EX_USAGE).
public struct ExperimentError: Error, Sendable, CustomStringConvertible {
    public let location: SourceLocation?
    /// Dotted path of the key, e.g. "model.layers[1].units".
    public let keyPath: String?
    public let message: String
    public let hint: String?
    /// The source line the location points into, for the caret display.
    public let sourceLine: String?

    public init(location: SourceLocation? = nil, keyPath: String? = nil, message: String,
                hint: String? = nil, sourceLine: String? = nil) {
        self.location = location
        self.keyPath = keyPath
        self.message = message
        self.hint = hint
        self.sourceLine = sourceLine
    }

    /// file:line:column: error: message
    ///     offending line
    ///     ^
    /// hint: …
    public var description: String {
        var out = (location.map { "\($0): " } ?? "") + "error: " + message
        if let keyPath, !keyPath.isEmpty { out += " (at \(keyPath))" }
        if let sourceLine, let location {
            let prefix = sourceLine.unicodeScalars.prefix(max(0, location.column - 1))
            let indent = String(prefix.map { $0 == "\t" ? "\t" : " " })
            out += "\n    " + sourceLine + "\n    " + indent + "^"
        }
        if let hint { out += "\nhint: " + hint }
        return out
    }
}
