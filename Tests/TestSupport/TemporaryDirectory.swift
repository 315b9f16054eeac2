// A scratch folder per test.
import Foundation

/// A fresh folder under the system's temporary directory, named after the test that made it;
/// call `remove()` in a `defer` (or a suite's deinit).
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = #function) throws {
        let clean = label.filter { $0.isLetter || $0.isNumber }
        path = (NSTemporaryDirectory() as NSString).appendingPathComponent("tests-\(clean)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `relative` inside the folder.
    public func callAsFunction(_ relative: String) -> String { path + "/" + relative }

    /// Writes `text` to the file `name` in the folder; returns its path.
    @discardableResult
    public func write(_ text: String, to name: String) throws -> String {
        try text.write(toFile: self(name), atomically: true, encoding: .utf8)
        return self(name)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
