// The comparison of a batch's runs: one row per run with the figures of its report.json, the
// runs that differ only by seed averaged (mean ± sample standard deviation), and the experiment
// keys that differ between runs. Written as comparison.json (everything, and what `--from` merges),
// comparison.csv (one line per run) and comparison.md, and printed; the console and Markdown
// tables are the same cells.
import Datasets
import Foundation
import NeuralNetwork

/// One run of a comparison.
public struct ComparisonRow: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// Trained by this batch, from the start or resumed from its checkpoint.
        case trained, resumed
        /// A finished run with the same experiment hash was found in the results folder.
        case reused
        /// The run failed, or stopped (SIGINT/SIGTERM) with a checkpoint to resume from.
        case failed, interrupted
        /// Its training loss or a parameter became non-finite: stopped there (its report says where).
        case diverged
        /// Not started: the batch stopped first (--fail-fast, Ctrl-C).
        case skipped = "not run"
        /// The experiment file could not be read or resolved.
        case invalid
        /// In the batch, but in none of the folders merged with --from.
        case missing

        public var completed: Bool { self == .trained || self == .resumed || self == .reused }
    }

    public var index: Int
    public var label: String
    /// The label without the seed; the runs of one group are averaged.
    public var group: String
    public var groupSHA256: String?
    public var name: String
    public var file: String
    public var status: Status
    public var experimentSHA256: String?
    public var seed: UInt64?
    public var results: RunFigures?
    public var expect: ExpectationResult?
    public var runDirectory: String?
    public var log: String?
    public var error: String?
    public var settings: [Setting]
    /// The published figure the run's experiment reproduces (`published:`).
    public var published: Published?

    enum CodingKeys: String, CodingKey {
        case index, label, group, groupSHA256 = "group_sha256", name, file, status
        case experimentSHA256 = "experiment_sha256", seed, results, expect, runDirectory = "run_directory", log, error
        case settings, published
    }

    /// Missed its `expect:` conditions (a completed run only).
    public var missedExpectations: Bool { expect.map { !$0.passed } ?? false }

    /// The row of a batch point before (or without) a run.
    init(_ point: Batch.Point, status: Status) {
        index = point.index
        label = point.label
        group = point.groupLabel
        groupSHA256 = point.groupHash
        name = point.name
        file = point.file
        self.status = status
        experimentSHA256 = point.hash
        seed = point.seed
        settings = point.settings
        published = point.published
    }

    init(_ invalid: Batch.Invalid, log: String?) {
        index = invalid.index
        label = (invalid.file as NSString).lastPathComponent
        group = label
        name = ((invalid.file as NSString).lastPathComponent as NSString).deletingPathExtension
        file = invalid.file
        status = .invalid
        self.log = log
        error = invalid.error.split(separator: "\n").first.map(String.init)
        settings = []
    }
}

/// The order of the tables (`--sort`). Runs without results go last.
public enum ComparisonSort: String, CaseIterable, Sendable, Codable {
    /// The batch's order: files as given, sweep points in their order.
    case order, name
    /// Highest test accuracy first; lowest test loss first.
    case accuracy, loss
    /// Shortest training first; most images per second first; least peak memory first.
    case time, speed, memory
    /// Fewest parameters first.
    case parameters
}

/// Runs that differ only by their seed, averaged.
public struct SeedGroup: Sendable {
    public let label: String
    public let runs: [ComparisonRow]
    /// The completed runs, whose figures are averaged.
    public var completed: [ComparisonRow] { runs.filter { $0.status.completed } }

    /// Mean and sample standard deviation (divisor n − 1; nil for fewer than two runs).
    public func statistic(_ value: (RunFigures) -> Double) -> (mean: Double, std: Double?)? {
        let xs = completed.compactMap(\.results).map(value)
        guard !xs.isEmpty else { return nil }
        let mean = xs.reduce(0, +) / Double(xs.count)
        guard xs.count > 1 else { return (mean, nil) }
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)
        return (mean, variance.squareRoot())
    }
}

/// What comparison.json holds, and what `--from` reads back.
public struct Comparison: Sendable {
    public struct BatchInfo: Codable, Sendable {
        public struct PointInfo: Codable, Sendable {
            public let index: Int
            public let label: String
            public let experimentSHA256: String?
            enum CodingKeys: String, CodingKey { case index, label, experimentSHA256 = "experiment_sha256" }
        }
        public var sha256: String
        public var slug: String
        public var files: [String]
        /// Every point of the batch, the other shards' too: a merge can tell what is missing.
        public var points: [PointInfo]
        /// "2/3" when this folder holds one shard's runs.
        public var shard: String?
        /// The folders a merge read.
        public var mergedFrom: [String]?
        enum CodingKeys: String, CodingKey { case sha256, slug, files, shard, mergedFrom = "merged_from", points }
    }

    public var batch: BatchInfo
    public var rows: [ComparisonRow]
    public var sort: ComparisonSort = .order
    public var onlyChanged = false

    /// Rows in the order `sort` asks for (stable: ties keep the batch order).
    public var sortedRows: [ComparisonRow] {
        let rows = self.rows.sorted { $0.index < $1.index }
        return stableSorted(rows, label: \.label) { $0.results.map(sortKey) }
    }

    /// Groups in order of first appearance, sorted like the runs by their means.
    public var groups: [SeedGroup] {
        var order: [String] = []
        var members: [String: [ComparisonRow]] = [:]
        for row in rows.sorted(by: { $0.index < $1.index }) {
            let key = row.groupSHA256 ?? "row \(row.index)"
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(row)
        }
        let groups = order.map { SeedGroup(label: members[$0]![0].group, runs: members[$0]!) }
        return stableSorted(groups, label: \.label) { meanFigures($0).map(sortKey) }
    }

    /// Whether to show the seed averages: some group has more than one run.
    public var hasSeedGroups: Bool { groups.contains { $0.runs.count > 1 } }

    /// The experiment keys whose values are not the same in every run that has settings.
    public var changedKeys: [String] {
        let withSettings = rows.filter { !$0.settings.isEmpty }
        var keys: [String] = []
        var seen: Set<String> = []
        for row in withSettings { for s in row.settings where seen.insert(s.key).inserted { keys.append(s.key) } }
        let values = withSettings.map { Dictionary($0.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        return keys.filter { key in Set(values.map { $0[key] ?? "–" }).count > 1 }
    }

    private func sortKey(_ f: RunFigures) -> Double {
        switch sort {
        case .order, .name: 0
        case .accuracy: -f.testAccuracy
        case .loss: f.testLoss
        case .time: f.trainSeconds
        case .speed: -f.imagesPerSecond
        case .memory: Double(f.peakMemoryBytes)
        case .parameters: Double(f.parameters)
        }
    }

    /// `items` by `key` (nil last), or by `label` for --sort name; ties keep their order.
    private func stableSorted<T>(_ items: [T], label: (T) -> String, key: (T) -> Double?) -> [T] {
        if sort == .order { return items }
        let keyed = items.enumerated().map { (offset: $0.offset, item: $0.element, label: label($0.element), key: key($0.element)) }
        return keyed.sorted { a, b in
            if sort == .name { return a.label != b.label ? a.label < b.label : a.offset < b.offset }
            switch (a.key, b.key) {
            case let (x?, y?) where x != y: return x < y
            case (nil, _?): return false
            case (_?, nil): return true
            default: return a.offset < b.offset
            }
        }.map(\.item)
    }

    /// A group's means as figures, for sorting the seed table like the runs.
    private func meanFigures(_ group: SeedGroup) -> RunFigures? {
        guard var f = group.completed.first?.results else { return nil }
        f.testAccuracy = group.statistic(\.testAccuracy)?.mean ?? 0
        f.testLoss = group.statistic(\.testLoss)?.mean ?? 0
        f.trainSeconds = group.statistic(\.trainSeconds)?.mean ?? 0
        f.imagesPerSecond = group.statistic(\.imagesPerSecond)?.mean ?? 0
        f.peakMemoryBytes = Int(group.statistic { Double($0.peakMemoryBytes) }?.mean ?? 0)
        return f
    }
}

// MARK: - Rendering

extension Comparison {
    /// The runs: one row each, the figures of its report.json.
    func runsTable(hashDigits: Int) -> TextTable {
        let withExpect = rows.contains { $0.expect != nil }
        var table = TextTable(columns: [
            .init(title: "name"), .init(title: "status"), .init(title: "parameters", right: true),
            .init(title: "epochs", right: true), .init(title: "test accuracy", right: true),
            .init(title: "test loss", right: true), .init(title: "train s", right: true),
            .init(title: "s/epoch", right: true), .init(title: "images/s", right: true),
            .init(title: "peak memory", right: true), .init(title: "weight hash"),
        ] + (withExpect ? [.init(title: "expect")] : []))
        for row in sortedRows {
            var cells = [row.label, row.status.rawValue]
            if let f = row.results {
                cells += [Format.grouped(f.parameters), String(f.epochs), Format.percent(f.testAccuracy),
                          Format.fixed(f.testLoss, 4), Format.fixed(f.trainSeconds, 2), Format.fixed(f.secondsPerEpoch, 2),
                          Format.grouped(Int(f.imagesPerSecond.rounded())), Format.bytes(f.peakMemoryBytes),
                          String(f.weightSHA256.prefix(hashDigits))]
            } else {
                cells += Array(repeating: "–", count: 9)
            }
            if withExpect { cells.append(row.expect?.summary ?? "–") }
            table.rows.append(cells)
        }
        return table
    }

    /// The runs that differ only by seed: mean ± sample standard deviation.
    func seedTable() -> TextTable {
        var table = TextTable(columns: [
            .init(title: "name"), .init(title: "runs", right: true), .init(title: "parameters", right: true),
            .init(title: "epochs", right: true), .init(title: "test accuracy", right: true),
            .init(title: "test loss", right: true), .init(title: "train s", right: true),
            .init(title: "s/epoch", right: true), .init(title: "images/s", right: true),
            .init(title: "peak memory", right: true),
        ])
        for group in groups {
            let done = group.completed
            var cells = [group.label, done.count == group.runs.count ? "\(done.count)" : "\(done.count) of \(group.runs.count)"]
            if let first = done.first?.results {
                func stat(_ value: (RunFigures) -> Double, _ text: (Double) -> String) -> String {
                    guard let s = group.statistic(value) else { return "–" }
                    return text(s.mean) + (s.std.map { " ± " + text($0) } ?? "")
                }
                let epochs = Set(done.compactMap(\.results?.epochs))
                cells += [Format.grouped(first.parameters),
                          epochs.count == 1 ? String(first.epochs) : stat({ Double($0.epochs) }, { Format.fixed($0, 1) }),
                          stat(\.testAccuracy, Format.percent), stat(\.testLoss, { Format.fixed($0, 4) }),
                          stat(\.trainSeconds, { Format.fixed($0, 2) }), stat(\.secondsPerEpoch, { Format.fixed($0, 2) }),
                          stat(\.imagesPerSecond, { Format.grouped(Int($0.rounded())) }),
                          stat({ Double($0.peakMemoryBytes) }, { Format.bytes(Int($0.rounded())) })]
            } else {
                cells += Array(repeating: "–", count: 8)
            }
            table.rows.append(cells)
        }
        return table
    }

    /// Experiment keys side by side (a column per run): the keys that differ, or all of them.
    func settingsTable(keys: [String]) -> TextTable {
        let rows = sortedRows.filter { !$0.settings.isEmpty }
        var table = TextTable(columns: [.init(title: "key")] + rows.map { .init(title: $0.label) })
        let values = rows.map { Dictionary($0.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        for key in keys { table.rows.append([key] + values.map { $0[key] ?? "–" }) }
        return table
    }

    /// Every key of every run, in order of first appearance.
    var allKeys: [String] {
        var keys: [String] = []
        var seen: Set<String> = []
        for row in sortedRows { for s in row.settings where seen.insert(s.key).inserted { keys.append(s.key) } }
        return keys
    }

    /// Runs that failed or missed an expectation, with where to look.
    var problems: [String] {
        sortedRows.compactMap { row in
            switch row.status {
            case .failed, .interrupted, .diverged, .invalid, .skipped, .missing:
                return "\(row.label): \(row.status.rawValue)" + (row.error.map { " — \($0)" } ?? "")
                    + (row.log.map { " (log: \($0))" } ?? "")
            default:
                guard row.missedExpectations, let missed = row.expect?.missed else { return nil }
                return "\(row.label): missed expectation " + missed.map(\.description).joined(separator: "; ")
            }
        }
    }

    /// What the console shows at the end of a batch.
    public func consoleText() -> String {
        var out = "\n" + runsTable(hashDigits: 16).console()
        if hasSeedGroups {
            out += "\n\nAcross seeds (mean ± sample standard deviation):\n" + seedTable().console()
        }
        out += publishedSection(markdown: false)
        let changed = changedKeys
        if onlyChanged {
            out += changed.isEmpty ? "\n\nNo experiment key differs between the runs."
                : "\n\nExperiment keys that differ between the runs:\n" + settingsTable(keys: changed).console()
        } else if !changed.isEmpty {
            out += "\n\n\(changed.count) experiment key\(changed.count == 1 ? "" : "s") differ\(changed.count == 1 ? "s" : "") "
                + "between the runs (--only-changed lists them; comparison.md has every key)."
        }
        let problems = self.problems
        if !problems.isEmpty { out += "\n\n" + problems.map { "✗ " + $0 }.joined(separator: "\n") }
        return out
    }

    /// comparison.md
    public func markdown() -> String {
        var md = "# Comparison: \(batch.slug)\n\n"
        md += "\(rows.count) run\(rows.count == 1 ? "" : "s")"
            + (batch.shard.map { " (shard \($0) of the batch's \(batch.points.count))" } ?? "")
            + " from " + batch.files.map { "`\($0)`" }.joined(separator: ", ")
            + (batch.mergedFrom.map { "; merged from " + $0.map { "`\($0)`" }.joined(separator: ", ") } ?? "")
            + ". Figures are those of each run's `report.json`; seconds per epoch are medians over the run's epochs.\n\n"
        md += "## Runs\n\n" + runsTable(hashDigits: 64).markdown() + "\n"
        if hasSeedGroups {
            md += "\n## Across seeds\n\nMean ± sample standard deviation (divisor n − 1) over the completed runs "
                + "that differ only by their seed.\n\n" + seedTable().markdown() + "\n"
        }
        md += publishedSection(markdown: true)
        let keys = onlyChanged ? changedKeys : allKeys
        if !keys.isEmpty {
            md += onlyChanged ? "\n## Experiment keys that differ\n\n" : "\n## Experiment keys\n\n"
            md += settingsTable(keys: keys).markdown() + "\n"
        }
        let problems = self.problems
        if !problems.isEmpty { md += "\n## Problems\n\n" + problems.map { "- " + $0 }.joined(separator: "\n") + "\n" }
        return md
    }

    /// comparison.csv: a line per run, full-precision numbers (report.json's text), the keys that
    /// differ between runs as the last columns.
    public func csv() -> String {
        let header = ["index", "label", "group", "status", "name", "file", "parameters", "epochs",
                      "test_accuracy", "test_loss", "train_seconds", "seconds_per_epoch", "images_per_second",
                      "peak_memory_bytes", "weight_sha256", "experiment_sha256", "seed", "expect_passed",
                      "run_directory", "log"] + Self.publishedCSVHeader
        let changed = changedKeys.filter { !header.contains($0) }  // name and seed have their columns
        var out = csvLine(header + changed) + "\n"
        for row in sortedRows {
            let values = Dictionary(row.settings.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            var fields = [String(row.index), row.label, row.group, row.status.rawValue, row.name, row.file]
            if let f = row.results {
                fields += [String(f.parameters), String(f.epochs), jsonNumber(f.testAccuracy), jsonNumber(f.testLoss),
                           jsonNumber(f.trainSeconds), jsonNumber(f.secondsPerEpoch), jsonNumber(f.imagesPerSecond),
                           String(f.peakMemoryBytes), f.weightSHA256]
            } else {
                fields += Array(repeating: "", count: 9)
            }
            fields += [row.experimentSHA256 ?? "", row.seed.map(String.init) ?? "",
                       row.expect.map { $0.passed ? "true" : "false" } ?? "", row.runDirectory ?? "", row.log ?? ""]
                + Self.publishedCSVFields(row)
            out += csvLine(fields + changed.map { values[$0] ?? "" }) + "\n"
        }
        return out
    }

    /// comparison.json
    public func json() throws -> Data {
        let document = Document(comparison: batch.slug, createdAt: ISO8601DateFormatter().string(from: Date()),
                                batch: batch, sort: sort, onlyChanged: onlyChanged, runs: sortedRows,
                                seedGroups: groups.map(GroupRecord.init), changedKeys: changedKeys)
        return Data((try OrderedJSONEncoder.encode(document).text() + "\n").utf8)
    }

    /// Reads a comparison.json (from this or another machine).
    public static func read(folder: String) throws -> Comparison {
        let path = (folder as NSString).appendingPathComponent("comparison.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ExperimentError(message: "cannot read \(path)",
                                  hint: "--from takes folders written by `runner compare` (results/comparisons/<name>)")
        }
        do {
            let document = try JSONDecoder().decode(Document.self, from: data)
            return Comparison(batch: document.batch, rows: document.runs, sort: document.sort, onlyChanged: document.onlyChanged)
        } catch {
            throw ExperimentError(message: "\(path) is not a comparison written by runner compare: \(error)")
        }
    }

    /// comparison.json's layout.
    struct Document: Codable {
        let comparison: String
        let createdAt: String
        let batch: BatchInfo
        let sort: ComparisonSort
        let onlyChanged: Bool
        let runs: [ComparisonRow]
        let seedGroups: [GroupRecord]
        let changedKeys: [String]
        enum CodingKeys: String, CodingKey {
            case comparison, createdAt = "created_at", batch, sort, onlyChanged = "only_changed", runs
            case seedGroups = "seed_groups", changedKeys = "changed_keys"
        }
    }

    /// A seed group in comparison.json: means and sample standard deviations.
    struct GroupRecord: Codable {
        struct Statistic: Codable {
            let mean: Double
            let std: Double?
        }
        let label: String
        let runs: Int
        let completed: Int
        let seeds: [UInt64]
        let testAccuracy, testLoss, trainSeconds, secondsPerEpoch, imagesPerSecond, peakMemoryBytes: Statistic?
        /// The published figure the group's experiment reproduces, beside test_accuracy's mean.
        let published: Published?
        enum CodingKeys: String, CodingKey {
            case label, runs, completed, seeds, testAccuracy = "test_accuracy", testLoss = "test_loss"
            case trainSeconds = "train_seconds", secondsPerEpoch = "seconds_per_epoch"
            case imagesPerSecond = "images_per_second", peakMemoryBytes = "peak_memory_bytes", published
        }

        init(_ group: SeedGroup) {
            func stat(_ value: (RunFigures) -> Double) -> Statistic? {
                group.statistic(value).map { Statistic(mean: $0.mean, std: $0.std) }
            }
            label = group.label
            runs = group.runs.count
            completed = group.completed.count
            seeds = group.runs.compactMap(\.seed)
            testAccuracy = stat(\.testAccuracy)
            testLoss = stat(\.testLoss)
            trainSeconds = stat(\.trainSeconds)
            secondsPerEpoch = stat(\.secondsPerEpoch)
            imagesPerSecond = stat(\.imagesPerSecond)
            peakMemoryBytes = stat { Double($0.peakMemoryBytes) }
            published = group.runs.first?.published
        }
    }

    /// Writes comparison.json, .csv and .md, then comparison.html and .ipynb, into `folder`.
    public func write(to folder: String) throws {
        try FileIO.createDirectories(folder)
        func put(_ name: String, _ data: Data) throws {
            try data.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name), options: .atomic)
        }
        try put("comparison.json", try json())
        try put("comparison.csv", Data(csv().utf8))
        try put("comparison.md", Data(markdown().utf8))
        // Drawn from the file just written, as `runner report` draws them: the same bytes.
        try ComparisonPages(try Comparison.read(folder: folder)).write(to: folder)
    }
}
