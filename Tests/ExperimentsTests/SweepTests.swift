// `sweep:` and `expect:` in experiment files: the points a sweep makes (order, labels, values put
// into the file, short forms written out), their hashes and groups, the conditions of `expect:`,
// and every mistake in either pinned to its line and column with a did-you-mean. Also the shard a
// point belongs to and the shard a job array's environment gives.
import Experiments
import Foundation
import Testing
import TestSupport

/// Where an error is raised: reading the file, expanding its sweep, or building a point's model.
enum Stage: Sendable { case parse, points, compile }

struct BadSweep: CustomTestStringConvertible, Sendable {
    let label: String
    /// Appended to `base` (it starts on line 17).
    let tail: String
    let stage: Stage
    let line: Int
    let column: Int
    let message: String
    var hint: String?
    var testDescription: String { label }
}

@Suite("Sweeps and expectations in experiment files")
struct SweepTests {
    func points(_ tail: String) throws -> [ExperimentSpec] {
        try ExperimentSpec.parse(base + tail, path: "sweep.yaml", defaultName: "sweep").points()
    }

    @Test("a grid of two keys times two seeds: 8 points, first key slowest, seeds last; values written into the file")
    func gridOrder() throws {
        let all = try points("""
            sweep:
              grid:
                compile.optimizer.learning_rate: [0.001, 0.01]
                model.layers[1].units: [16, 32]
              seeds: [5, 6]

            """)
        #expect(all.count == 8)
        #expect(all.map(\.label) == [
            "sweep[learning_rate=0.001, units=16, seed=5]", "sweep[learning_rate=0.001, units=16, seed=6]",
            "sweep[learning_rate=0.001, units=32, seed=5]", "sweep[learning_rate=0.001, units=32, seed=6]",
            "sweep[learning_rate=0.01, units=16, seed=5]", "sweep[learning_rate=0.01, units=16, seed=6]",
            "sweep[learning_rate=0.01, units=32, seed=5]", "sweep[learning_rate=0.01, units=32, seed=6]",
        ])
        #expect(all.map(\.groupLabel)[0...1] == ["sweep[learning_rate=0.001, units=16]", "sweep[learning_rate=0.001, units=16]"])
        #expect(all.map(\.seed) == [5, 6, 5, 6, 5, 6, 5, 6])
        #expect(all.allSatisfy { $0.sweep == nil })
        // `optimizer: adam` (a short form) became {type: adam, learning_rate: …}.
        let last = all[7]
        let compiled = try last.compile(maxBatch: 32)
        let yaml = try last.resolvedText(compiled).yaml
        #expect(yaml.contains("learning_rate: 0.01\n"), "\(yaml)")
        #expect(yaml.contains("type: adam"), "\(yaml)")
        #expect(compiled.model.parameterCount == 784 * 32 + 32 + 32 * 10 + 10)
    }

    @Test("hashes: every point its own; seeds share a group hash, other values do not; expect: is not part of either")
    func hashes() throws {
        let all = try points("""
            sweep:
              grid: {compile.optimizer.learning_rate: [0.001, 0.002]}
              seeds: [1, 2]

            """)
        let hashes = try all.map { try $0.resolvedText($0.compile(maxBatch: 32)).sha256 }
        let groups = try all.map { try $0.groupHash($0.compile(maxBatch: 32)) }
        #expect(Set(hashes).count == 4)
        #expect(groups[0] == groups[1] && groups[2] == groups[3] && groups[0] != groups[2])

        let plain = try ExperimentSpec.parse(base, path: "a.yaml")
        let gated = try ExperimentSpec.parse(base + "expect:\n  test_accuracy: \">= 97%\"\n  test_loss: \"< 0.1\"\n", path: "a.yaml")
        let (plainYAML, plainHash) = try plain.resolvedText(plain.compile(maxBatch: 32))
        let (gatedYAML, gatedHash) = try gated.resolvedText(gated.compile(maxBatch: 32))
        #expect(plainHash == gatedHash)
        #expect(gatedYAML.hasPrefix(plainYAML))
        #expect(gatedYAML.hasSuffix("expect:\n  test_accuracy: \">= 97%\"\n  test_loss: \"< 0.1\"\n"), "\(gatedYAML)")
        // The resolved experiment, gate included, reads back to itself (a point file a child runs).
        let again = try ExperimentSpec.parse(gatedYAML, path: "point.yaml")
        let (againYAML, againHash) = try again.resolvedText(again.compile(maxBatch: 32))
        #expect(againYAML == gatedYAML && againHash == gatedHash)
        #expect(again.expect == gated.expect)
    }

    @Test("keys the file leaves out are added; whole values (lists, mappings) can be swept")
    func missingKeysAndWholeValues() throws {
        let all = try points("""
            evaluate: {}
            sweep:
              grid:
                train.validation_split: [0.1]
                evaluate.batch_size: [128]
                compile.optimizer: [adam, {type: sgd, momentum: 0.9}]

            """)
        #expect(all.map(\.label) == ["sweep[validation_split=0.1, batch_size=128, optimizer=adam]",
                                     "sweep[validation_split=0.1, batch_size=128, optimizer={type: sgd, momentum: 0.9}]"])
        #expect(all.allSatisfy { $0.train.validationSplit == 0.1 && $0.evaluate.batchSize == 128 })
        let sgd = try all[1].compile(maxBatch: 128)
        #expect(sgd.optimizer.name == "sgd")
        // Two keys with the same last name are labelled by their whole paths.
        let twice = try points("""
            sweep:
              grid:
                train.batch_size: [64]
                evaluate.batch_size: [128]

            """)
        #expect(twice.map(\.label) == ["sweep[train.batch_size=64, evaluate.batch_size=128]"])
    }

    @Test("a file without a sweep is its own single point")
    func noSweep() throws {
        let spec = try ExperimentSpec.parse(base, path: "a.yaml", defaultName: "a")
        let all = try spec.points()
        #expect(all.count == 1 && all[0].label == "a" && all[0].assignments.isEmpty)
    }

    @Test("mistakes in sweep: and expect:", arguments: [
        BadSweep(label: "misspelt seeds", tail: "sweep:\n  seed: [1, 2]\n", stage: .parse, line: 18, column: 3,
                 message: "unknown key 'seed'", hint: "did you mean 'seeds'?"),
        BadSweep(label: "an empty sweep", tail: "sweep: {}\n", stage: .parse, line: 17, column: 8,
                 message: "the sweep varies nothing"),
        BadSweep(label: "not a list", tail: "sweep:\n  grid:\n    train.epochs: 3\n", stage: .parse, line: 19, column: 19,
                 message: "expected a non-empty list of values for 'train.epochs'"),
        BadSweep(label: "not a key path", tail: "sweep:\n  grid:\n    model.layers[x].units: [1]\n", stage: .parse,
                 line: 19, column: 5, message: "'model.layers[x].units' is not a key path"),
        BadSweep(label: "a seed twice", tail: "sweep:\n  seeds: [1, 2, 1]\n", stage: .parse, line: 18, column: 17,
                 message: "seed 1 is listed twice"),
        BadSweep(label: "seed in the grid and seeds", tail: "sweep:\n  grid:\n    seed: [1]\n  seeds: [2]\n", stage: .parse,
                 line: 19, column: 5, message: "the seed is swept twice"),
        BadSweep(label: "misspelt key path", tail: "sweep:\n  grid:\n    compile.optimizer.learnin_rate: [0.1]\n",
                 stage: .points, line: 19, column: 5, message: "unknown key path 'compile.optimizer.learnin_rate'",
                 hint: "did you mean 'compile.optimizer.learning_rate'?"),
        BadSweep(label: "a layer that is not there", tail: "sweep:\n  grid:\n    model.layers[7].units: [1]\n",
                 stage: .points, line: 19, column: 5, message: "unknown key path 'model.layers[7].units'"),
        BadSweep(label: "a swept value the layer rejects", tail: "sweep:\n  grid:\n    model.layers[1].units: [64, -1]\n",
                 stage: .compile, line: 19, column: 33, message: "units"),
        BadSweep(label: "a swept value of the wrong type", tail: "sweep:\n  grid:\n    train.epochs: [2, many]\n",
                 stage: .points, line: 19, column: 23, message: "expected an integer, found string 'many'"),
        BadSweep(label: "misspelt metric", tail: "expect:\n  test_acuracy: \">= 0.9\"\n", stage: .parse, line: 18, column: 3,
                 message: "unknown key 'test_acuracy'", hint: "did you mean 'test_accuracy'?"),
        BadSweep(label: "a condition without an operator", tail: "expect:\n  test_accuracy: 0.97\n", stage: .parse,
                 line: 18, column: 18, message: "cannot read the condition '0.97'", hint: ">="),
        BadSweep(label: "a condition that is not a number", tail: "expect:\n  test_loss: \"< low\"\n", stage: .parse,
                 line: 18, column: 14, message: "cannot read the condition '< low'"),
        BadSweep(label: "a validation metric without a validation split", tail: "expect:\n  val_accuracy: \"> 0.9\"\n",
                 stage: .parse, line: 18, column: 17, message: "'val_accuracy' needs a validation split"),
    ])
    func mistakes(_ c: BadSweep) {
        var reached: Stage = .parse
        let error = #expect(throws: ExperimentError.self) {
            let spec = try ExperimentSpec.parse(base + c.tail, path: "sweep.yaml")
            reached = .points
            let all = try spec.points()
            reached = .compile
            for point in all { _ = try point.compile(maxBatch: 32) }
        }
        guard let error else {
            Issue.record("no error for:\n\(c.tail)")
            return
        }
        #expect(reached == c.stage, "raised at the wrong stage: \(error)")
        #expect(error.location?.line == c.line && error.location?.column == c.column, "\(error)")
        #expect(error.message.contains(c.message), "\(error)")
        if let hint = c.hint { #expect(error.hint?.contains(hint) == true, "\(error)") }
        #expect(error.description.hasPrefix("sweep.yaml:\(c.line):\(c.column): error: "), "\(error)")
    }

    @Test("conditions: operators, percentages, and what they say of a value")
    func conditions() throws {
        let spec = try ExperimentSpec.parse(base + """
            expect:
              test_loss: "<0.2"
              test_accuracy: ">= 97.5%"
              parameters: "== 101770"

            """, path: "a.yaml")
        #expect(spec.expect.map(\.metric) == [.testLoss, .testAccuracy, .parameters])
        #expect(spec.expect.map(\.condition) == ["< 0.2", ">= 97.5%", "== 101770"])
        #expect(spec.expect.map(\.threshold) == [0.2, 0.975, 101770])
        #expect(Expectation(metric: .testAccuracy, condition: "> 1") != nil)
        #expect(Expectation(metric: .testAccuracy, condition: "=> 1") == nil)
        #expect(Expectation(metric: .testAccuracy, condition: ">=") == nil)
    }

    @Test("shards: point i goes to shard (i mod N) + 1; Slurm and Kubernetes variables name the shard")
    func shards() throws {
        let shards = (1...3).map { Shard(index: $0, count: 3)! }
        #expect((0..<7).map { i in shards.firstIndex { $0.owns(i) }! + 1 } == [1, 2, 3, 1, 2, 3, 1])
        #expect(Shard("2/3") == Shard(index: 2, count: 3))
        #expect(Shard("0/3") == nil && Shard("4/3") == nil && Shard("2") == nil && Shard("a/b") == nil)

        func shard(_ environment: [String: String], count: Int? = nil) throws -> String? {
            try Shard.fromEnvironment(environment, count: count).map { "\($0.0)" }
        }
        #expect(try shard([:]) == nil)
        #expect(try shard(["SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "3"]) == "1/3")
        // --array=1-3: ids count from SLURM_ARRAY_TASK_MIN.
        #expect(try shard(["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3"]) == "3/3")
        // --array=0-8:4 (ids 0, 4, 8).
        #expect(try shard(["SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "4",
                           "SLURM_ARRAY_TASK_COUNT": "3"]) == "2/3")
        #expect(try shard(["JOB_COMPLETION_INDEX": "1", "RUNNER_SHARD_COUNT": "4"]) == "2/4")
        #expect(try shard(["JOB_COMPLETION_INDEX": "1"], count: 2) == "2/2")
        let noCount = #expect(throws: ExperimentError.self) { _ = try shard(["JOB_COMPLETION_INDEX": "1"]) }
        #expect(noCount?.hint?.contains("--shard-count") == true)
        #expect(throws: ExperimentError.self) { _ = try shard(["JOB_COMPLETION_INDEX": "5"], count: 3) }
    }

    @Test("a batch: files in order, their points, duplicates run once, an invalid file is an entry of its own")
    func batch() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let folder = scratch.path
        func write(_ text: String, _ name: String) throws -> String { try scratch.write(text, to: name) }
        let a = try write("name: m\n" + base, "a.yaml")
        let b = try write("name: m\n" + base.replacingOccurrences(of: "units: 128", with: "units: 64"), "b.yaml")
        let sweep = try write("name: s\n" + base + "sweep: {seeds: [1, 2]}\n", "s.yaml")
        let bad = try write(base + "bogus: 1\n", "bad.yaml")
        let batch = Batch(files: [a, b, sweep, a, bad], epochs: 1)
        #expect(batch.entries.count == 5)  // a, b, s × 2, bad; the second a is the same experiment as the first
        let labels = batch.entries.map { entry -> String in
            switch entry {
            case .point(let p): p.label
            case .invalid(let i): "invalid " + (i.file as NSString).lastPathComponent
            }
        }
        #expect(labels == ["m (\(a))", "m (\(b))", "s[seed=1]", "s[seed=2]", "invalid bad.yaml"])
        #expect(batch.entries.map(\.index) == [0, 1, 2, 3, 4])
        if case .invalid(let i) = batch.entries[4] { #expect(i.error.contains("unknown key 'bogus'")) }
        if case .point(let p) = batch.entries[2] { #expect(p.yaml.contains("epochs: 1\n") && p.seed == 1) }
        #expect(batch.slug == "m-vs-s-vs-bad")
        #expect(try Batch.expand([folder]).map { ($0 as NSString).lastPathComponent } == ["a.yaml", "b.yaml", "bad.yaml", "s.yaml"])
        #expect(try Batch.expand([folder + "/[ab].yaml"]).map { ($0 as NSString).lastPathComponent } == ["a.yaml", "b.yaml"])
        #expect(throws: ExperimentError.self) { _ = try Batch.expand([folder + "/*.yml"]) }
    }
}
