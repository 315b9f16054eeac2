// report.json is written by this small encoder rather than by JSONEncoder, so that keys keep the
// order the report declares them in (JSONEncoder on Linux does not keep it), numbers are the
// shortest text that reads back as the same Double (the same text metrics.csv uses), and short
// lists of numbers stay on one line (a 10×10 confusion matrix is ten lines, not a hundred and
// twenty). An absent optional is written as null, so every key is always there (JSONEncoder leaves
// it out), unless the type is `OmitsAbsentKeys`.
import Foundation
import Yams

/// A JSON value with ordered objects.
indirect enum JSONValue {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case number(String)
    case string(String)
    case bool(Bool)
    case null

    /// Indented JSON text.
    func text(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { inner + JSONValue.quote($0.0) + ": " + $0.1.text(indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        case .array(let items):
            if items.isEmpty { return "[]" }
            let texts = items.map { $0.text(indent: inner) }
            let flat = items.allSatisfy { if case .object = $0 { false } else if case .array = $0 { false } else { true } }
            if flat && texts.reduce(indent.count, { $0 + $1.count + 2 }) < 100 {
                return "[" + texts.joined(separator: ", ") + "]"
            }
            return "[\n" + texts.map { inner + $0 }.joined(separator: ",\n") + "\n" + indent + "]"
        case .number(let n): return n
        case .string(let s): return JSONValue.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A YAML tree (the resolved experiment) as JSON, scalars typed by their YAML tags.
    init(_ node: Node) {
        switch node {
        case .mapping(let m): self = .object(m.map { ($0.key.string ?? "", JSONValue($0.value)) })
        case .sequence(let s): self = .array(s.map(JSONValue.init))
        case .scalar(let s):
            switch node.tag.kind {
            case .int: self = node.int.map { .number(String($0)) } ?? .string(s.string)
            case .float: self = node.float.map { .number(jsonNumber($0)) } ?? .string(s.string)
            case .bool: self = node.bool.map(JSONValue.bool) ?? .string(s.string)
            case .null: self = .null
            default: self = .string(s.string)
            }
        case .alias: self = .null
        }
    }
}

/// The shortest text that reads back as the same Double; null for NaN and infinities.
func jsonNumber(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }

/// Encodes any Encodable into a JSONValue, keeping the order in which keys are encoded.
final class OrderedJSONEncoder {
    static func encode(_ value: some Encodable) throws -> JSONValue {
        let encoder = ValueEncoder(codingPath: [], omitsAbsentKeys: value is OmitsAbsentKeys)
        try value.encode(to: encoder)
        return encoder.slot.resolved
    }
}

/// A type whose absent optionals are left out of its JSON object rather than written as null:
/// its keys depend on the run (an epoch without validation has no val_loss, as in Keras's history).
protocol OmitsAbsentKeys {}

/// A box the containers write into, so nested containers can fill their parent's slot later.
private final class Slot {
    var value: JSONValue = .null
    var fields: [(String, Slot)]?
    var items: [Slot]?

    var resolved: JSONValue {
        if let fields { return .object(fields.map { ($0.0, $0.1.resolved) }) }
        if let items { return .array(items.map(\.resolved)) }
        return value
    }
}

private final class ValueEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let slot: Slot
    /// The value being encoded is `OmitsAbsentKeys`.
    let omitsAbsentKeys: Bool

    init(codingPath: [any CodingKey], slot: Slot = Slot(), omitsAbsentKeys: Bool = false) {
        self.codingPath = codingPath
        self.slot = slot
        self.omitsAbsentKeys = omitsAbsentKeys
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if slot.fields == nil { slot.fields = [] }
        return KeyedEncodingContainer(KeyedContainer<Key>(slot: slot, codingPath: codingPath,
                                                          omitsAbsentKeys: omitsAbsentKeys))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if slot.items == nil { slot.items = [] }
        return UnkeyedContainer(slot: slot, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleContainer(slot: slot, codingPath: codingPath) }
}

/// Encodes one value into `slot`: scalars directly, anything else through a nested encoder.
private func put(_ value: some Encodable, into slot: Slot, codingPath: [any CodingKey]) throws {
    switch value {
    case let v as Double: slot.value = .number(jsonNumber(v))
    case let v as Float: slot.value = .number(jsonNumber(Double(v)))
    case let v as Int: slot.value = .number(String(v))
    case let v as UInt64: slot.value = .number(String(v))
    case let v as Bool: slot.value = .bool(v)
    case let v as String: slot.value = .string(v)
    case let v as JSONValueBox: slot.value = v.value
    default: try value.encode(to: ValueEncoder(codingPath: codingPath, slot: slot,
                                               omitsAbsentKeys: value is OmitsAbsentKeys))
    }
}

/// Lets an already built JSONValue (the configuration) be encoded as a field.
struct JSONValueBox: Encodable {
    let value: JSONValue
    func encode(to encoder: Encoder) throws {}
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]
    let omitsAbsentKeys: Bool

    private func child(_ key: Key) -> Slot {
        let child = Slot()
        slot.fields!.append((key.stringValue, child))
        return child
    }

    func encodeNil(forKey key: Key) throws { child(key).value = .null }
    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try put(value, into: child(key), codingPath: codingPath + [key])
    }

    // What synthesized Encodable calls for optional properties: null when absent (see the top).
    private func putIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else if !omitsAbsentKeys { try encodeNil(forKey: key) }
    }
    func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: String?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try putIfPresent(value, forKey: key) }
    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(codingPath: codingPath + [key], slot: child(key)).container(keyedBy: keyType)
    }
    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        ValueEncoder(codingPath: codingPath + [key], slot: child(key)).unkeyedContainer()
    }
    func superEncoder() -> any Encoder { ValueEncoder(codingPath: codingPath, slot: slot) }
    func superEncoder(forKey key: Key) -> any Encoder { ValueEncoder(codingPath: codingPath + [key], slot: child(key)) }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    var count: Int { slot.items!.count }

    private func next() -> Slot {
        let child = Slot()
        slot.items!.append(child)
        return child
    }

    func encodeNil() throws { next().value = .null }
    func encode<T: Encodable>(_ value: T) throws { try put(value, into: next(), codingPath: codingPath) }
    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(codingPath: codingPath, slot: next()).container(keyedBy: keyType)
    }
    func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        ValueEncoder(codingPath: codingPath, slot: next()).unkeyedContainer()
    }
    func superEncoder() -> any Encoder { ValueEncoder(codingPath: codingPath, slot: next()) }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    func encodeNil() throws { slot.value = .null }
    func encode<T: Encodable>(_ value: T) throws { try put(value, into: slot, codingPath: codingPath) }
}
