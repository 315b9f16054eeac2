// A batch of runs: the experiment files given to `runner compare` (globs and folders expanded),
// each file's sweep points in order, every point resolved to the experiment a child run will
// train — its YAML, its hash — and its slice of the batch when the batch is sharded.
import Foundation
import Kernels
import NeuralNetwork
import Yams

public struct Batch: Sendable {
    /// One run of the batch.
    public struct Point: Sendable {
        /// Position in the batch (0-based): decides the shard and the order of the comparison.
        public let index: Int
        /// The experiment file it comes from, as given.
        public let file: String
        public let name: String
        /// Unique in the batch: "mlp", "sweep-mlp[learning_rate=0.001, seed=2]".
        public let label: String
        /// The label without the seed; points that differ only by their seed share it.
        public let groupLabel: String
        /// The resolved experiment (the file a child run trains), `expect:` included.
        public let yaml: String
        /// The experiment's hash, as the run will record it in report.json.
        public let hash: String
        /// The hash with the seed left out: the runs averaged over seeds share it.
        public let groupHash: String
        public let seed: UInt64
        public let parameters: Int
        public let expect: [Expectation]
        /// The published figure the experiment reproduces (`published:`).
        public let published: Published?
        /// Every key of the resolved experiment as "path: value" (for --only-changed).
        public let settings: [Setting]
    }

    /// A file that could not be read or resolved: a failed entry of the batch, not its end.
    public struct Invalid: Sendable {
        public let index: Int
        public let file: String
        public let error: String
    }

    public enum Entry: Sendable {
        case point(Point)
        case invalid(Invalid)

        public var index: Int {
            switch self {
            case .point(let p): p.index
            case .invalid(let i): i.index
            }
        }
    }

    public let files: [String]
    public let entries: [Entry]
    /// Names the comparison folder: the experiments' names ("mlp-vs-cnn").
    public let slug: String

    /// Identifies the batch across machines: shards of one batch share it.
    public var sha256: String {
        experimentHash(entries.map {
            switch $0 {
            case .point(let p): p.hash
            case .invalid(let i): "invalid " + i.file
            }
        }.joined(separator: "\n"))
    }

    /// Reads and resolves every file; `settings` (--set), `epochs` and `batchSize` (--epochs,
    /// --batch-size) override every point's.
    public init(files: [String], epochs: Int? = nil, batchSize: Int? = nil, settings: [String] = []) {
        self.files = files
        var entries: [Entry] = []
        var seen: Set<String> = []
        for file in files {
            do {
                var options = RunOptions()
                options.settings = settings
                let spec = try ExperimentRunner.load(file, options: options)
                for var point in try spec.points() {
                    RunCheckpoint.Overrides(epochs: epochs, seed: nil, batchSize: batchSize).apply(to: &point)
                    point.absoluteDataDirectory(relativeTo: file)
                    let compiled = try point.compile(maxBatch: point.maxBatch)
                    let (yaml, hash) = try point.resolvedText(compiled)
                    // The same experiment twice (a file given twice, a sweep that repeats itself) runs once.
                    guard seen.insert(hash).inserted else { continue }
                    entries.append(.point(Point(
                        index: entries.count, file: file, name: point.name, label: point.label,
                        groupLabel: point.groupLabel, yaml: yaml, hash: hash,
                        groupHash: try point.groupHash(compiled), seed: point.seed,
                        parameters: compiled.model.parameterCount, expect: point.expect, published: point.published,
                        // published.* has columns of its own in the comparison.
                        settings: Setting.flatten(try point.resolved(compiled)).filter { !$0.key.hasPrefix("published.") })))
                }
            } catch {
                entries.append(.invalid(Invalid(index: entries.count, file: file, error: "\(error)")))
            }
        }
        self.entries = Self.uniqueLabels(entries)
        let names = entries.map {
            switch $0 {
            case .point(let p): p.name
            case .invalid(let i): ((i.file as NSString).lastPathComponent as NSString).deletingPathExtension
            }
        }
        slug = Self.slug(names)
    }

    /// Two different experiments with one label (two files that both say `name: mlp`) are told
    /// apart by their file.
    private static func uniqueLabels(_ entries: [Entry]) -> [Entry] {
        var counts: [String: Int] = [:]
        for case .point(let p) in entries { counts[p.label, default: 0] += 1 }
        return entries.map { entry in
            guard case .point(let p) = entry, counts[p.label, default: 0] > 1 else { return entry }
            return .point(Point(index: p.index, file: p.file, name: p.name, label: p.label + " (\(p.file))",
                                groupLabel: p.groupLabel + " (\(p.file))", yaml: p.yaml, hash: p.hash,
                                groupHash: p.groupHash, seed: p.seed, parameters: p.parameters, expect: p.expect,
                                published: p.published,
                                settings: p.settings))
        }
    }

    /// "mlp-vs-cnn"; with many names, the first two and a count.
    static func slug(_ names: [String]) -> String {
        var unique: [String] = []
        for name in names where !unique.contains(name) { unique.append(name) }
        if unique.isEmpty { return "empty" }
        let all = unique.joined(separator: "-vs-")
        if unique.count <= 3 && all.count <= 60 { return all }
        return unique.prefix(2).joined(separator: "-vs-") + "-and-\(unique.count - 2)-more"
    }

    /// The experiment files named by `inputs`: files as given, every *.yaml / *.yml of a folder,
    /// and glob patterns (`'experiments/*.yaml'`, for shells that did not expand them), sorted.
    public static func expand(_ inputs: [String]) throws -> [String] {
        var files: [String] = []
        for input in inputs {
            if FileManager.default.fileExists(atPath: input) {
                if isDirectory(input) {
                    let names = ((try? FileManager.default.contentsOfDirectory(atPath: input)) ?? [])
                        .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
                    if names.isEmpty { throw ExperimentError(message: "\(input) holds no .yaml experiment files") }
                    files += names.map { (input as NSString).appendingPathComponent($0) }
                } else {
                    files.append(input)
                }
            } else if input.contains(where: { "*?[".contains($0) }) {
                let matches = glob(input)
                if matches.isEmpty { throw ExperimentError(message: "no experiment file matches '\(input)'") }
                files += matches
            } else {
                files.append(input)  // a missing file: reported as a failed entry, the others still run
            }
        }
        return files
    }

    private static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Foundation.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { i in result.gl_pathv[i].map { String(cString: $0) } }.sorted()
    }

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}

/// One key of a resolved experiment and its value on one line.
public struct Setting: Sendable, Equatable, Codable {
    public let key: String
    public let value: String

    /// Every leaf of the tree ("compile.optimizer.learning_rate: 0.001"); lists of plain values
    /// stay one value ("model.input_shape: [28, 28]").
    static func flatten(_ tree: Node, prefix: String = "") -> [Setting] {
        switch tree {
        case .mapping(let m):
            return m.flatMap { pair in
                flatten(pair.value, prefix: prefix.isEmpty ? (pair.key.string ?? "") : prefix + "." + (pair.key.string ?? ""))
            }
        case .sequence(let s) where s.contains(where: { if case .scalar = $0 { false } else { true } }):
            return s.enumerated().flatMap { i, item in flatten(item, prefix: prefix + "[\(i)]") }
        default:
            return [Setting(key: prefix, value: inlineText(tree))]
        }
    }
}

/// `--shard I/N`: the I-th of N slices of a batch (I from 1). Point i (0-based, in batch order)
/// belongs to shard (i mod N) + 1, so every shard gets a share of each file's points.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, index >= 1, index <= count else { return nil }
        self.index = index
        self.count = count
    }

    /// "2/3"
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    public func owns(_ pointIndex: Int) -> Bool { pointIndex % count == index - 1 }

    /// The shard that a job array's environment gives this process, and where it came from:
    /// Slurm's SLURM_ARRAY_TASK_ID (counted from SLURM_ARRAY_TASK_MIN, in steps of
    /// SLURM_ARRAY_TASK_STEP) of SLURM_ARRAY_TASK_COUNT tasks, or a Kubernetes Indexed Job's
    /// JOB_COMPLETION_INDEX (from 0) of `count` (--shard-count, else $RUNNER_SHARD_COUNT) — the
    /// job's `completions`, which Kubernetes does not put in the environment. Nil outside a job array.
    public static func fromEnvironment(_ environment: [String: String], count given: Int?) throws -> (Shard, String)? {
        func number(_ key: String) -> Int? { environment[key].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
        if let id = number("SLURM_ARRAY_TASK_ID") {
            let low = number("SLURM_ARRAY_TASK_MIN") ?? 0, step = max(1, number("SLURM_ARRAY_TASK_STEP") ?? 1)
            let count = given ?? number("SLURM_ARRAY_TASK_COUNT")
                ?? number("SLURM_ARRAY_TASK_MAX").map { ($0 - low) / step + 1 }
            guard let count, let shard = Shard(index: (id - low) / step + 1, count: count) else {
                throw ExperimentError(message: "cannot make a shard of SLURM_ARRAY_TASK_ID=\(id) "
                                      + "(SLURM_ARRAY_TASK_MIN=\(low), count \(count.map(String.init) ?? "unknown"))",
                                      hint: "submit with --array=0-<N-1>, or pass --shard I/N")
            }
            return (shard, "SLURM_ARRAY_TASK_ID=\(id)")
        }
        if let index = number("JOB_COMPLETION_INDEX") {
            guard let count = given ?? number("RUNNER_SHARD_COUNT") else {
                throw ExperimentError(message: "JOB_COMPLETION_INDEX=\(index) is set, but not how many shards there are",
                                      hint: "pass --shard-count N or set RUNNER_SHARD_COUNT to the job's completions")
            }
            guard let shard = Shard(index: index + 1, count: count) else {
                throw ExperimentError(message: "JOB_COMPLETION_INDEX=\(index) is not below the shard count \(count)")
            }
            return (shard, "JOB_COMPLETION_INDEX=\(index)")
        }
        return nil
    }
}

extension ExperimentSpec {
    /// A relative data.directory is relative to the experiment file; a point's file lives in the
    /// comparison folder, so it gets the absolute path.
    mutating func absoluteDataDirectory(relativeTo file: String) {
        guard let directory = data.directory, !directory.hasPrefix("/") else { return }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        data.directory = base.appendingPathComponent(directory).standardizedFileURL.path
    }
}
