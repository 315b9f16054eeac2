// A `Decoder` over Yams's node tree that knows where every value came from.
//
// Every configuration struct in the project is a plain `Decodable`; this decoder is what gives
// their errors a file:line:column. It also does what Decodable alone cannot: a key nobody asked
// for is an error ("unknown key"), with the nearest known key as a hint, and so is a key written
// twice. Quoted scalars are strings, as YAML says ("32" is not an integer), but a plain `1e-3` is
// accepted as a number even though YAML 1.1 would call it a string.
import Foundation
import NeuralNetwork
import Yams

/// "model.layers[1].units"
func keyPath(_ path: [any CodingKey]) -> String {
    var out = ""
    for key in path {
        if let index = key.intValue, key.stringValue.hasPrefix("[") || key is IndexKey {
            out += "[\(index)]"
        } else {
            out += (out.isEmpty ? "" : ".") + key.stringValue
        }
    }
    return out
}

struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "[\(intValue!)]" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

struct NameKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Words for what a node is, in error messages: "string 'abc'", "a list", …
func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let s):
        switch Node.scalar(s).tag.kind {
        case .null: return "nothing (null)"
        case .int: return "integer \(s.string)"
        case .float: return "number \(s.string)"
        case .bool: return s.string
        default: return "string '\(s.string)'"
        }
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}

final class NodeDecoder: Decoder {
    let node: Node
    let codingPath: [any CodingKey]
    let source: SourceText
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// Keys that some container of this node asked about: everything else is unknown.
    var askedKeys: Set<String> = []
    /// Set by specs that hand their node on (a layer's `type` is read first, its parameters later);
    /// the unknown-key check then runs when the final reader is done.
    var checkDeferred = false

    init(node: Node, codingPath: [any CodingKey], source: SourceText) {
        self.node = node
        self.codingPath = codingPath
        self.source = source
    }

    /// Decodes `type` from `node`, then rejects keys that the type did not read.
    static func decode<T: Decodable>(_ type: T.Type, node: Node, codingPath: [any CodingKey],
                                     source: SourceText) throws -> T {
        let decoder = NodeDecoder(node: node, codingPath: codingPath, source: source)
        let value = try T(from: decoder)
        if !decoder.checkDeferred { try decoder.checkUnknownKeys() }
        return value
    }

    func error(_ message: String, hint: String? = nil) -> ExperimentError {
        source.error(at: node.mark, path: codingPath, message, hint: hint)
    }

    func mismatch(expected: String) -> ExperimentError {
        error("expected \(expected), found \(describe(node))")
    }

    func checkUnknownKeys() throws {
        guard case .mapping(let mapping) = node else { return }
        for (key, _) in mapping {
            let name = key.string ?? ""
            if !askedKeys.contains(name) {
                let known = askedKeys.sorted()
                let hint = Spelling.nearest(to: name, among: known).map { "did you mean '\($0)'? " } ?? ""
                throw source.error(at: key.mark, path: codingPath, "unknown key '\(name)'",
                                   hint: hint + "known keys here: " + known.joined(separator: ", "))
            }
        }
    }

    func mapping() throws -> Node.Mapping {
        switch node {
        case .mapping(let m):
            var seen: [String: Mark?] = [:]
            for (key, _) in m {
                let name = key.string ?? ""
                if let first = seen[name] {
                    throw source.error(at: key.mark, path: codingPath, "duplicate key '\(name)'",
                                       hint: first.map { "first given at line \($0.line)" })
                }
                seen[name] = key.mark
            }
            return m
        case .scalar(let s) where Node.scalar(s).tag.kind == .null:
            // `train:` with nothing under it reads as an empty section.
            return Node.Mapping([])
        default:
            throw mismatch(expected: "a mapping (indented `key: value` lines)")
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedNodeContainer<Key>(decoder: self, mapping: try mapping()))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .sequence(let s) = node else { throw mismatch(expected: "a list") }
        return UnkeyedNodeContainer(decoder: self, items: Array(s))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { ScalarContainer(decoder: self) }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: NodeDecoder
    let mapping: Node.Mapping
    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] { mapping.keys.compactMap { $0.string.flatMap(Key.init(stringValue:)) } }

    private func value(_ key: Key) -> Node? {
        decoder.askedKeys.insert(key.stringValue)
        return mapping[key.stringValue]
    }

    /// A required key is absent. When the mapping holds a key nobody asked for that looks like a
    /// typo of it (`unit:` for `units:`), the typo is the error to point at, not the mapping.
    private func missing(_ key: Key) -> ExperimentError {
        let name = key.stringValue
        for (written, _) in mapping {
            guard let text = written.string, !decoder.askedKeys.contains(text),
                  Spelling.nearest(to: text, among: [name]) != nil else { continue }
            return decoder.source.error(at: written.mark, path: codingPath, "unknown key '\(text)'",
                                        hint: "did you mean '\(name)'? ('\(name)' is required here)")
        }
        return decoder.source.error(at: decoder.node.mark, path: codingPath, "missing required key '\(name)'")
    }

    func contains(_ key: Key) -> Bool { value(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let node = value(key) else { return true }
        if case .scalar(let s) = node, Node.scalar(s).tag.kind == .null { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        guard let node = value(key) else {
            throw missing(key)
        }
        return try NodeDecoder.decode(type, node: node, codingPath: codingPath + [key], source: decoder.source)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        if try decodeNil(forKey: key) { return nil }
        return try decode(type, forKey: key)
    }

    // The concrete overloads all route through the generic one.
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type as Bool.Type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type as String.Type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(type as Double.Type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(type as Float.Type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type as Int.Type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(type as UInt64.Type, key) }
    private func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        try decode(type, forKey: key) as T
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey> {
        guard let node = value(key) else {
            throw missing(key)
        }
        return try NodeDecoder(node: node, codingPath: codingPath + [key], source: decoder.source)
            .container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        guard let node = value(key) else {
            throw missing(key)
        }
        return try NodeDecoder(node: node, codingPath: codingPath + [key], source: decoder.source)
            .unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        NodeDecoder(node: value(key) ?? Node("", Tag(.null)), codingPath: codingPath + [key], source: decoder.source)
    }
}

struct UnkeyedNodeContainer: UnkeyedDecodingContainer {
    let decoder: NodeDecoder
    let items: [Node]
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }
    var currentIndex = 0

    init(decoder: NodeDecoder, items: [Node]) {
        self.decoder = decoder
        self.items = items
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return true }
        if case .scalar(let s) = items[currentIndex], Node.scalar(s).tag.kind == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else { throw decoder.error("list is too short") }
        let value = try NodeDecoder.decode(type, node: items[currentIndex],
                                           codingPath: codingPath + [IndexKey(currentIndex)], source: decoder.source)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey> {
        defer { currentIndex += 1 }
        return try NodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)],
                               source: decoder.source).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        defer { currentIndex += 1 }
        return try NodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)],
                               source: decoder.source).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { decoder }
}

struct ScalarContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    private var scalar: Node.Scalar? {
        if case .scalar(let s) = decoder.node { return s }
        return nil
    }

    func decodeNil() -> Bool { scalar.map { Node.scalar($0).tag.kind } == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard let s = scalar, Node.scalar(s).tag.kind == .bool, let value = decoder.node.bool else {
            throw decoder.mismatch(expected: "true or false")
        }
        return value
    }

    func decode(_ type: String.Type) throws -> String {
        guard let s = scalar, Node.scalar(s).tag.kind != .null else { throw decoder.mismatch(expected: "a string") }
        return s.string
    }

    func decode(_ type: Double.Type) throws -> Double {
        guard let s = scalar else { throw decoder.mismatch(expected: "a number") }
        switch Node.scalar(s).tag.kind {
        case .int, .float:
            if let value = decoder.node.float { return value }
        case .str where s.style == .plain:
            // YAML 1.1 has no exponent-only floats; `learning_rate: 1e-3` should still work.
            if let value = Double(s.string), value.isFinite { return value }
        default: break
        }
        throw decoder.mismatch(expected: "a number")
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard let s = scalar, Node.scalar(s).tag.kind == .int, let value = decoder.node.int else {
            throw decoder.mismatch(expected: T.isSigned ? "an integer" : "a non-negative integer")
        }
        guard let exact = T(exactly: value) else {
            throw decoder.error("\(value) is out of range (expected \(T.isSigned ? "" : "a non-negative ")integer "
                                + "between \(T.min) and \(T.max))")
        }
        return exact
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
}

/// Turns any error raised while decoding or building from `root` into an ExperimentError with a
/// location: ConfigErrors and DecodingErrors carry coding paths, which are resolved to nodes.
func locate(_ error: any Error, root: Node, source: SourceText) -> ExperimentError {
    switch error {
    case let e as ExperimentError:
        return e
    case let e as ConfigError:
        let node = resolve(e.codingPath, in: root)
        return ExperimentError(location: source.location(node.mark), keyPath: e.codingPath.joinedPath,
                               message: e.message, hint: e.hint, sourceLine: source.line(node.mark))
    case let e as DecodingError:
        let (context, message): (DecodingError.Context, String) = {
            switch e {
            case .keyNotFound(let key, let c): return (c, "missing required key '\(key.stringValue)'")
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
                return (c, c.debugDescription)
            @unknown default: return (.init(codingPath: [], debugDescription: ""), "\(e)")
            }
        }()
        let path = context.codingPath.map(\.stringValue)
        let node = resolve(path, in: root)
        return ExperimentError(location: source.location(node.mark), keyPath: keyPath(context.codingPath),
                               message: message, sourceLine: source.line(node.mark))
    default:
        return ExperimentError(message: "\(error)")
    }
}

/// The deepest node along `path` ("[3]" steps into lists).
func resolve(_ path: [String], in root: Node) -> Node {
    var node = root
    for step in path {
        if step.hasPrefix("["), let index = Int(step.dropFirst().dropLast()),
           case .sequence(let s) = node, index < s.count {
            node = s[index]
        } else if case .mapping(let m) = node, let next = m[step] {
            node = next
        } else {
            break
        }
    }
    return node
}

extension Array where Element == String {
    var joinedPath: String {
        reduce(into: "") { out, step in out += step.hasPrefix("[") || out.isEmpty ? step : "." + step }
    }
}

extension Tag {
    /// The resolved tag (int, float, str, …) of a composed node.
    var kind: Tag.Name { Tag.Name(rawValue: rawValue) }
}
