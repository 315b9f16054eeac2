// `--set key.path=value` and `extends: base.yaml`: values of every YAML type put in by key path,
// the hash following them, and every mistake pinned to the argument's column or to the line of
// the file (base or child) where it was written.
import Experiments
import Foundation
import Testing
import TestSupport

@Suite("--set and extends")
struct FileLayersTests {
    func spec(_ settings: [String], yaml: String = base) throws -> ExperimentSpec {
        try ExperimentSpec.parse(yaml, path: "mlp.yaml", defaultName: "mlp", settings: settings)
    }

    func resolved(_ spec: ExperimentSpec) throws -> (yaml: String, sha256: String) {
        try spec.resolvedText(spec.compile(maxBatch: spec.train.batchSize))
    }

    func error(_ body: () throws -> Void) -> ExperimentError? {
        do { try body() } catch let error as ExperimentError { return error } catch { Issue.record("\(error)") }
        return nil
    }

    @Test("--set values are YAML: integers, numbers, booleans, names, flow lists and mappings; list indices")
    func types() throws {
        let s = try spec(["train.epochs=3", "compile.optimizer.learning_rate=3e-4", "train.shuffle=false",
                          "model.layers[1].activation=tanh", "model.layers[1].units=256",
                          "train.lr_schedule={type: cosine, decay_steps: 100, alpha: 0.1}"])
        #expect(s.train.epochs == 3)
        #expect(s.train.shuffle == false)
        #expect(s.train.lrSchedule.schedule.name == "cosine")
        let compiled = try s.compile(maxBatch: 32)
        #expect(compiled.optimizer.learningRate == 3e-4)
        #expect(compiled.model.parameterCount == 784 * 256 + 256 + 256 * 10 + 10)
        let yaml = try resolved(s).yaml
        #expect(yaml.contains("activation: tanh"), "\(yaml)")
        #expect(yaml.contains("learning_rate: 0.0003"), "\(yaml)")
        // The short form `optimizer: adam` was written out; a later --set of the same key wins.
        #expect(yaml.contains("type: adam"))
        #expect(try spec(["train.epochs=3", "train.epochs=4"]).train.epochs == 4)
        // A flow list replaces the whole value.
        #expect(try spec(["compile.metrics=[accuracy]"]).train.epochs == 5)
    }

    @Test("the hash follows --set: a changed value changes it, the same value gives the file's hash")
    func hashes() throws {
        let plain = try resolved(try spec([])).sha256
        let wider = try resolved(try spec(["model.layers[1].units=256"])).sha256
        #expect(wider != plain)
        #expect(try resolved(try spec(["model.layers[1].units=128"])).sha256 == plain)
        #expect(try resolved(try spec(["model.layers[1].units=256"])).sha256 == wider)
        // Logging is no part of the experiment's identity.
        #expect(try resolved(try spec(["train.tensorboard=true"])).sha256 == plain)
        #expect(try spec(["train.tensorboard=true"]).train.tensorboard)
    }

    @Test("--set errors point at the argument: unknown key path with did-you-mean, bad value, no '=', bad path")
    func errors() throws {
        let unknown = try #require(error { _ = try spec(["compile.optimizer.learning_rat=0.1"]) })
        #expect(unknown.location?.description == "--set:1:1")
        #expect(unknown.message == "unknown key path 'compile.optimizer.learning_rat'")
        #expect(unknown.hint?.contains("did you mean 'compile.optimizer.learning_rate'?") == true)
        #expect(unknown.sourceLine == "compile.optimizer.learning_rat=0.1")

        let value = try #require(error { _ = try spec(["train.epochs=3", "train.epochs=many"]) })
        #expect(value.location?.description == "--set:1:14")
        #expect(value.message == "expected an integer, found string 'many'")
        #expect(value.keyPath == "train.epochs")
        #expect(value.description.contains("    train.epochs=many\n                 ^"), "\(value)")

        let layer = try #require(error { _ = try spec(["model.layers[1].units=-1"]).compile(maxBatch: 32) })
        #expect(layer.location?.description == "--set:1:23")
        #expect(layer.keyPath == "model.layers[1].units")

        let noEquals = try #require(error { _ = try spec(["train.epochs"]) })
        #expect(noEquals.message.contains("has no '='"))
        #expect(noEquals.hint?.contains("--set compile.optimizer.learning_rate=3e-4") == true)
        let badPath = try #require(error { _ = try spec(["train..epochs=2"]) })
        #expect(badPath.message == "'train..epochs' is not a key path")
        let index = try #require(error { _ = try spec(["model.layers[7].units=2"]) })
        #expect(index.message == "unknown key path 'model.layers[7].units'")
    }

    @Test("--set on a sweep file: every point has the value")
    func sweep() throws {
        let file = base + "sweep:\n  seeds: [1, 2]\n"
        let points = try spec(["model.layers[1].units=64"], yaml: file).points()
        #expect(points.count == 2)
        for point in points { #expect(try point.compile(maxBatch: 32).model.parameterCount == 784 * 64 + 64 + 650) }
    }

    // MARK: - extends

    @Test("extends: mappings merge key by key, lists replace, name is the file's own, no extends in the result")
    func merge() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("name: base-net\ndescription: the base\n" + base, to: "base.yaml")
        let child = try folder.write("""
            extends: base.yaml
            model:
              layers:
                - type: flatten
                - type: dense
                  units: 10
                  activation: softmax
            train:
              epochs: 2

            """, to: "small.yaml")
        let s = try ExperimentSpec.load(path: child)
        #expect(s.name == "small")
        #expect(s.description == "the base")
        #expect(s.train.epochs == 2)
        #expect(s.train.batchSize == 32)
        let compiled = try s.compile(maxBatch: 32)
        #expect(compiled.model.parameterCount == 7850)
        #expect(compiled.model.inputShape.dims == [28, 28])
        let yaml = try resolved(s).yaml
        #expect(!yaml.contains("extends"))
        #expect(yaml.hasPrefix("name: small\n"), "\(yaml)")
        // The resolved experiment reads back to the same experiment.
        let again = try ExperimentSpec.parse(yaml, path: "experiment.yaml")
        #expect(try resolved(again).sha256 == resolved(s).sha256)
    }

    @Test("extends chains (c → b → a, paths relative to each file) and refuses cycles, pointing at the line")
    func chainsAndCycles() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder("bases"), withIntermediateDirectories: true)
        try folder.write(base, to: "bases/a.yaml")
        try folder.write("extends: a.yaml\ntrain:\n  batch_size: 64\n", to: "bases/b.yaml")
        let c = try folder.write("extends: bases/b.yaml\ntrain:\n  epochs: 1\n", to: "c.yaml")
        let s = try ExperimentSpec.load(path: c)
        #expect(s.train.epochs == 1 && s.train.batchSize == 64 && s.name == "c")
        #expect(try s.compile(maxBatch: 64).model.parameterCount == 101_770)

        try folder.write("train:\n  epochs: 1\nextends: y.yaml\n", to: "x.yaml")
        try folder.write("extends: ./x.yaml\n", to: "y.yaml")
        let cycle = try #require(error { _ = try ExperimentSpec.load(path: folder("x.yaml")) })
        #expect(cycle.message == "extends cycle: x.yaml → y.yaml → x.yaml")
        #expect(cycle.location?.description == "\(folder("y.yaml")):1:10")
        let missing = try #require(error { _ = try ExperimentSpec.load(path: folder.write("extends: nowhere.yaml\n", to: "m.yaml")) })
        #expect(missing.location?.description == "\(folder("m.yaml")):1:10")
        #expect(missing.message == "cannot read base experiment \(folder("nowhere.yaml")): no such file")
        let typo = try #require(error { _ = try ExperimentSpec.load(path: folder.write("extend: a.yaml\n" + base, to: "t.yaml")) })
        #expect(typo.message == "unknown key 'extend'" && typo.hint?.contains("did you mean 'extends'?") == true)
    }

    @Test("errors point at the file and line where the bad value was written, base or child")
    func errorLocations() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let badBase = try folder.write(edit("units: 128", "units: -1"), to: "bad-base.yaml")
        try folder.write(base, to: "good-base.yaml")
        // Line 6 of the base holds `units: -1`; the child (3 lines) is fine.
        let child = try folder.write("extends: bad-base.yaml\ntrain:\n  epochs: 2\n", to: "child.yaml")
        let inBase = try #require(error { _ = try ExperimentSpec.load(path: child).compile(maxBatch: 32) })
        #expect(inBase.location?.description == "\(badBase):6:14")
        #expect(inBase.sourceLine == "      units: -1")
        // The child's own mistake, in a section the base also has.
        let badChild = try folder.write("extends: good-base.yaml\ntrain:\n  epochs: 0\n", to: "bad-child.yaml")
        let inChild = try #require(error { _ = try ExperimentSpec.load(path: badChild) })
        #expect(inChild.location?.description == "\(badChild):3:11")
        #expect(inChild.keyPath == "train.epochs")
        // An unknown key in the base, reached through the child.
        try folder.write(base + "  epocs: 3\n", to: "typo-base.yaml")
        let viaChild = try folder.write("extends: typo-base.yaml\n", to: "via.yaml")
        let typo = try #require(error { _ = try ExperimentSpec.load(path: viaChild) })
        #expect(typo.location?.description == "\(folder("typo-base.yaml")):17:3")
        // A syntax error in the base is reported in the base's own lines.
        try folder.write("model:\n  layers: [\n", to: "broken.yaml")
        let syntax = try #require(error { _ = try ExperimentSpec.load(path: folder.write("extends: broken.yaml\n", to: "s.yaml")) })
        #expect(syntax.location?.file == folder("broken.yaml"))
        #expect(syntax.message.contains("YAML syntax"))
        // And a --set over an extended file: the value's error points at the argument.
        let good = try folder.write("extends: good-base.yaml\n", to: "good.yaml")
        let set = try #require(error { _ = try ExperimentSpec.load(path: good, settings: ["train.batch_size=x"]) })
        #expect(set.location?.description == "--set:1:18")
    }
}
