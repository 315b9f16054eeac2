// Name → constructor tables for everything an experiment file names by `type` (layers, losses,
// initializers here; optimizers in Training). One pattern for all of them.

/// A table of named entries. Registering a name twice is a programmer error (trap at startup);
/// looking up an unknown name is a user error that lists the known names and the nearest one.
public struct Registry<Entry>: @unchecked Sendable {
    /// What the entries are called in messages: "layer type", "optimizer", …
    public let kind: String
    public private(set) var entries: [String: Entry] = [:]

    public init(kind: String) { self.kind = kind }

    public mutating func register(_ name: String, _ entry: Entry) {
        precondition(entries[name] == nil, "\(kind) '\(name)' registered twice")
        entries[name] = entry
    }

    public var names: [String] { entries.keys.sorted() }

    /// The entry for `name`; a ConfigError at `codingPath` with a did-you-mean hint otherwise.
    public func lookup(_ name: String, codingPath: [any CodingKey] = []) throws -> Entry {
        if let entry = entries[name] { return entry }
        throw ConfigError(codingPath: codingPath, message: "unknown \(kind) '\(name)'",
                          hint: Spelling.hint(for: name, among: names, kind: kind + (kind.hasSuffix("s") ? "es" : "s")))
    }
}
