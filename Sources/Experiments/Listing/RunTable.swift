// `runner runs [RESULTS_DIR] [--where COND]… [--sort KEY] [--name NAME] [--json]`: the runs
// found by RunListing, filtered with the `expect:` condition grammar, sorted, as a table or JSON.
import Datasets
import Foundation
import NeuralNetwork

/// What `runner runs` was asked.
public struct RunQuery: Sendable {
    public var conditions: [String] = []
    public var sort: RunSort = .started
    /// Only runs of this experiment name (a shell pattern: `mlp*`).
    public var name: String?
    public var json = false

    public init() {}
}

extension RunListing {
    /// "test_accuracy >= 0.98" → the condition; an unknown metric or a bad condition is an error
    /// naming what is known.
    public static func condition(_ text: String) throws -> Expectation {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let name = String(trimmed.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        let known = Expectation.Metric.allCases.map(\.rawValue)
        guard let metric = Expectation.Metric(rawValue: name) else {
            throw ExperimentError(message: "--where '\(text)': unknown figure '\(name)'",
                                  hint: (Spelling.nearest(to: name, among: known).map { "did you mean '\($0)'? " } ?? "")
                                      + "known: " + known.joined(separator: ", "))
        }
        guard let condition = Expectation(metric: metric, condition: String(trimmed.dropFirst(name.count))) else {
            throw ExperimentError(message: "--where '\(text)': cannot read the condition",
                                  hint: "write a figure, an operator (>=, >, <=, <, ==) and a number: "
                                      + "'test_accuracy >= 0.98' or 'test_accuracy >= 98%'")
        }
        return condition
    }

    /// The runs under `root` that meet every condition (a run without the figure does not), in order.
    public static func runs(in root: String, _ query: RunQuery) throws -> [RunEntry] {
        guard FileIO.isDirectory(root) else {
            throw ExperimentError(message: "no results folder \(root)",
                                  hint: "runs are written to results/ (or --results-dir); pass that folder")
        }
        let conditions = try query.conditions.map(condition)
        return scan(root).filter { entry in
            (query.name.map { fnmatch($0, entry.name, 0) == 0 } ?? true)
                && conditions.allSatisfy { c in entry.value(of: c.metric).map { c.relation.holds($0, c.threshold) } ?? false }
        }.sorted(by: query.sort.ordered)
    }

    /// `runner runs`: the table (or JSON) on the console.
    public static func list(_ root: String, _ query: RunQuery, console: Console) throws {
        let entries = try runs(in: root, query)
        if query.json {
            let text = try OrderedJSONEncoder.encode(entries).text()
            console.result(text)
            return
        }
        guard !entries.isEmpty else {
            console.result("No runs in \(root)" + (query.conditions.isEmpty && query.name == nil ? "" : " match"))
            return
        }
        console.result(table(entries).console())
        let counts = RunEntry.Status.allCases.compactMap { status -> String? in
            let n = entries.filter { $0.status == status }.count
            return n == 0 ? nil : "\(n) \(status.rawValue)"
        }
        console.result("\(entries.count) run\(entries.count == 1 ? "" : "s") (" + counts.joined(separator: ", ") + ")")
    }

    static func table(_ entries: [RunEntry]) -> TextTable {
        var table = TextTable(columns: [
            .init(title: "name"), .init(title: "run"), .init(title: "status"), .init(title: "epochs", right: true),
            .init(title: "test acc", right: true), .init(title: "test loss", right: true),
            .init(title: "seconds", right: true), .init(title: "memory", right: true), .init(title: "weights"),
            .init(title: "started"),
        ])
        for e in entries {
            let epochs = (e.epochs.map(String.init) ?? "–") + "/" + (e.epochsAsked.map(String.init) ?? "–")
            table.rows.append([
                e.name, e.runID, e.status.rawValue, epochs,
                e.testAccuracy.map(Format.percent) ?? "–", e.testLoss.map { Format.fixed($0, 4) } ?? "–",
                e.seconds.map { Format.fixed($0, 1) } ?? "–", e.peakMemoryBytes.map(Format.bytes) ?? "–",
                e.weightSHA256.map { String($0.prefix(12)) } ?? "–",
                e.startedAt.map { $0.replacingOccurrences(of: "T", with: " ").prefix(16).description } ?? "–",
            ])
        }
        return table
    }
}
