// Accuracy gates: `expect:` in an experiment file names conditions on a finished run's results,
// like tinygrad's TARGET_EVAL_ACC_PCT. A run that misses one is marked in report.json and in every
// comparison, and `runner` exits with status 3, so a CI job can use the file as its test.
//
//     expect:
//       test_accuracy: ">= 0.97"     # quoted: YAML reads a leading '>' as a folded block
//       test_loss: "< 0.1"
import Foundation
import NeuralNetwork
import Yams

/// One condition on one figure of a finished run: `metric relation threshold`.
public struct Expectation: Sendable, Equatable {
    /// The figures a condition can be put on. Final-epoch figures are those of the last epoch trained.
    public enum Metric: String, CaseIterable, Sendable {
        case testAccuracy = "test_accuracy", testLoss = "test_loss"
        case accuracy, loss, valAccuracy = "val_accuracy", valLoss = "val_loss"
        case secondsPerEpoch = "seconds_per_epoch", imagesPerSecond = "images_per_second"
        case parameters

        var needsValidation: Bool { self == .valAccuracy || self == .valLoss }
    }

    public enum Relation: String, CaseIterable, Sendable {
        // Two-character operators first, so that ">= 1" is not read as "> = 1".
        case atLeast = ">=", atMost = "<=", equal = "==", above = ">", below = "<"

        func holds(_ value: Double, _ threshold: Double) -> Bool {
            switch self {
            case .atLeast: value >= threshold
            case .atMost: value <= threshold
            case .equal: value == threshold
            case .above: value > threshold
            case .below: value < threshold
            }
        }
    }

    public let metric: Metric
    public let relation: Relation
    public let threshold: Double
    /// The condition as written, tidied: ">= 0.97", "< 97.5%".
    public let condition: String

    /// Reads ">= 0.97", ">=0.97" or ">= 97%" (percent: the threshold is divided by 100).
    public init?(metric: Metric, condition text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let relation = Relation.allCases.first(where: { trimmed.hasPrefix($0.rawValue) }) else { return nil }
        var number = trimmed.dropFirst(relation.rawValue.count).trimmingCharacters(in: .whitespaces)
        let percent = number.hasSuffix("%")
        if percent { number = String(number.dropLast()).trimmingCharacters(in: .whitespaces) }
        guard let value = Double(number), value.isFinite else { return nil }
        self.metric = metric
        self.relation = relation
        threshold = percent ? value / 100 : value
        condition = relation.rawValue + " " + number + (percent ? "%" : "")
    }

    /// Whether `figures` meet the condition; nil when the run did not measure the metric.
    public func check(_ figures: RunFigures) -> ExpectationCheck {
        let value = figures.value(of: metric)
        return ExpectationCheck(metric: metric.rawValue, condition: condition, value: value,
                                passed: value.map { relation.holds($0, threshold) } ?? false)
    }
}

/// What one condition found, as report.json and comparison.json record it.
public struct ExpectationCheck: Codable, Sendable, Equatable {
    public let metric: String
    public let condition: String
    /// The run's figure (null if the run did not measure it, which counts as missed).
    public let value: Double?
    public let passed: Bool

    /// "test_accuracy = 0.9548, expected >= 0.97"
    public var description: String {
        "\(metric) = \(value.map { jsonNumber($0) } ?? "not measured"), expected \(condition)"
    }
}

/// All of a run's conditions: `passed` when every one holds.
public struct ExpectationResult: Codable, Sendable, Equatable {
    public let passed: Bool
    public let checks: [ExpectationCheck]

    /// nil when there are no conditions.
    public init?(_ expectations: [Expectation], figures: RunFigures) {
        if expectations.isEmpty { return nil }
        checks = expectations.map { $0.check(figures) }
        passed = checks.allSatisfy(\.passed)
    }

    public var missed: [ExpectationCheck] { checks.filter { !$0.passed } }

    /// The comparison's `expect` cell: "met", or "MISSED" and the conditions missed.
    public var summary: String {
        passed ? "met" : "MISSED " + missed.map { "\($0.metric) \($0.condition)" }.joined(separator: ", ")
    }
}

/// `expect:` as written: a mapping of metric names to conditions.
struct ExpectSpec: Decodable {
    let expectations: [Expectation]

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: NameKey.self)
        var expectations: [Expectation] = []
        // Asking for every known name makes any other key an "unknown key" with a did-you-mean.
        for metric in Expectation.Metric.allCases { _ = c.contains(NameKey(metric.rawValue)) }
        for key in c.allKeys {
            guard let metric = Expectation.Metric(rawValue: key.stringValue) else { continue }
            let written: String
            do {
                written = try c.decode(String.self, forKey: key)
            } catch {
                throw ConfigError(codingPath: c.codingPath + [key], message: "expected a condition such as \">= 0.97\"",
                                  hint: "quote it and give the comparison: `\(metric.rawValue): \">= 0.97\"`")
            }
            guard let expectation = Expectation(metric: metric, condition: written) else {
                throw ConfigError(codingPath: c.codingPath + [key],
                                  message: "cannot read the condition '\(written)'",
                                  hint: "write an operator (>=, >, <=, <, ==) and a number, e.g. \">= 0.97\" or \">= 97%\"")
            }
            expectations.append(expectation)
        }
        self.expectations = expectations
    }
}

extension Expectation {
    /// `metric: "condition"` pairs for the resolved experiment, in the file's order.
    static func node(_ expectations: [Expectation]) -> Node {
        Node(expectations.map { (Node($0.metric.rawValue), Node($0.condition, Tag(.str), .doubleQuoted)) }, Tag(.map))
    }
}
