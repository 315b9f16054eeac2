// Errors found while reading a configuration (a layer's parameters, an optimizer's, a loss's),
// raised where the `Decoder` is, so the experiment reader can point at the file, line and column.
import Kernels

/// A bad value in a configuration. `codingPath` locates it; the experiment reader turns the path
/// into file:line:column.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let codingPath: [String]
    public let message: String
    public let hint: String?

    public init(codingPath: [any CodingKey], message: String, hint: String? = nil) {
        self.codingPath = codingPath.map(\.stringValue)
        self.message = message
        self.hint = hint
    }

    public var description: String {
        let path = codingPath.isEmpty ? "" : codingPath.joined(separator: ".") + ": "
        return path + message + (hint.map { "\nhint: \($0)" } ?? "")
    }
}

/// A model that cannot be built: the layer's name, what is wrong with the shapes, and a hint.
/// The experiment reader adds the layer's file:line:column.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// Index of the offending layer in the model's layer list, when there is one.
    public let layerIndex: Int?
    public let message: String
    public let hint: String?

    public init(layerIndex: Int?, message: String, hint: String? = nil) {
        self.layerIndex = layerIndex
        self.message = message
        self.hint = hint
    }

    public var description: String { message + (hint.map { "\nhint: \($0)" } ?? "") }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `defaultValue` when the key is absent.
    public func decode<T: Decodable>(_ key: Key, default defaultValue: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? defaultValue
    }

    /// The value at `key` (or `defaultValue` when absent and a default exists), which must satisfy
    /// `isValid`; otherwise a ConfigError at the key saying what was expected and what was found.
    public func decode<T: Decodable>(_ key: Key, default defaultValue: T? = nil, expected: String,
                                     where isValid: (T) -> Bool) throws -> T {
        let value: T
        if let defaultValue {
            value = try decodeIfPresent(T.self, forKey: key) ?? defaultValue
        } else {
            value = try decode(T.self, forKey: key)
        }
        guard isValid(value) else {
            throw ConfigError(codingPath: codingPath + [key], message:
                "'\(key.stringValue)' must be \(expected), found \(value)")
        }
        return value
    }

    /// One of a fixed set of names (an enum's raw values), with "did you mean" for a typo.
    public func decodeChoice<T: CaseIterable & RawRepresentable>(_ key: Key, default defaultValue: T?)
        throws -> T where T.RawValue == String {
        let raw: String
        if let given = try decodeIfPresent(String.self, forKey: key) {
            raw = given
        } else if let defaultValue {
            return defaultValue
        } else {
            raw = try decode(String.self, forKey: key)   // the decoder's own "missing key" error
        }
        if let value = T(rawValue: raw) { return value }
        let names = T.allCases.map(\.rawValue)
        throw ConfigError(codingPath: codingPath + [key],
                          message: "unknown \(key.stringValue) '\(raw)'",
                          hint: Spelling.hint(for: raw, among: names, kind: "values"))
    }
}
