// `published:` — the figure a published source reports for the configuration an experiment file
// reproduces, and where it comes from. Like `expect:` it does not change how the model trains, so
// it is left out of the experiment's hash; `runner compare` shows it next to the reproduced figure
// (comparison.json, .csv, .md and the console).
//
//     published:
//       test_accuracy: 99.25%      # or 0.9925
//       source: keras-team/keras 2.2.4, examples/mnist_cnn.py ("Gets to 99.25% test accuracy")
import NeuralNetwork
import Yams

public struct Published: Sendable, Equatable, Codable {
    /// Test accuracy as a fraction (written 0.9925 or "99.25%").
    public var testAccuracy: Double?
    /// Test loss.
    public var testLoss: Double?
    /// Where the figure is published: repository, file and version, or the page.
    public var source: String

    enum CodingKeys: String, CodingKey { case testAccuracy = "test_accuracy", testLoss = "test_loss", source }

    public init(testAccuracy: Double? = nil, testLoss: Double? = nil, source: String) {
        self.testAccuracy = testAccuracy
        self.testLoss = testLoss
        self.source = source
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.testAccuracy), try !c.decodeNil(forKey: .testAccuracy) {
            testAccuracy = try Self.fraction(c, .testAccuracy)
        }
        if c.contains(.testLoss), try !c.decodeNil(forKey: .testLoss) {
            testLoss = try c.decode(.testLoss, expected: "a non-negative number") { (l: Double) in l >= 0 && l.isFinite }
        }
        source = try c.decode(.source, expected: "the repository, file and version (or page) that publishes it") {
            (s: String) in !s.trimmingCharacters(in: .whitespaces).isEmpty
        }
        if testAccuracy == nil && testLoss == nil {
            try (decoder as? NodeDecoder)?.checkUnknownKeys()   // a misspelt figure is the likelier mistake
            throw ConfigError(codingPath: c.codingPath, message: "'published' names no figure",
                              hint: "give test_accuracy (e.g. 99.25% or 0.9925) and/or test_loss")
        }
    }

    /// A fraction in [0, 1], written as a number or as a percentage ("99.25%").
    private static func fraction(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Double {
        let expected = "a fraction in [0, 1] or a percentage such as \"99.25%\""
        if let text = try? c.decode(String.self, forKey: key), text.hasSuffix("%") {
            guard let percent = Double(text.dropLast().trimmingCharacters(in: .whitespaces)), percent >= 0, percent <= 100 else {
                throw ConfigError(codingPath: c.codingPath + [key], message: "'\(key.stringValue)' must be \(expected), found '\(text)'")
            }
            return (percent / 100 * 1e12).rounded() / 1e12       // 98.40% → 0.984, not 0.9840000000000001
        }
        return try c.decode(key, expected: expected) { (x: Double) in x >= 0 && x <= 1 }
    }

    /// The section as the resolved experiment writes it: fractions as numbers.
    var node: Node {
        func number(_ x: Double) -> Node {
            var text = "\(x)"                                // "0.9925", "1.0e-05": with a dot, as YAML 1.1 needs
            if !text.contains("."), let e = text.firstIndex(of: "e") { text.insert(contentsOf: ".0", at: e) }
            return Node(text, Tag(.float))
        }
        var pairs: [(Node, Node)] = []
        if let testAccuracy { pairs.append((Node("test_accuracy"), number(testAccuracy))) }
        if let testLoss { pairs.append((Node("test_loss"), number(testLoss))) }
        pairs.append((Node("source"), Node(source)))
        return Node(pairs, Tag(.map))
    }
}
