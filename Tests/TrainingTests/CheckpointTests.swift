// The checkpoint file: exact round trips (tensors bit for bit, the header's doubles to the last
// bit), every way a file can be unusable reported as such (never a trap, never a partial load),
// atomic replacement, and a fit stopped mid-epoch and continued from a file ending with the same
// weights as one that never stopped.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Testing
import TestSupport
import Training

struct TestHeader: CheckpointHeader, Equatable {
    var note: String
    var training: FitState
    var tensors: [CheckpointTensor]
}

func storage(_ values: [Float]) -> FloatStorage {
    let s = FloatStorage(count: values.count)
    for (i, v) in values.enumerated() { s.view[i] = v }
    return s
}

@Suite("Checkpoint files")
struct CheckpointFileTests {
    // Float(bitPattern: 0x116c2): the subnormal nearest 1e-40 (a literal 1e-40 warns that it underflows).
    static let values: [Float] = [0, -0.0, 1, -1.5, .pi, Float(bitPattern: 0x0001_16c2), -Float.greatestFiniteMagnitude,
                                  .infinity, 0.1]

    /// A checkpoint with two tensors and a FitState holding awkward doubles.
    func sample() -> (TestHeader, [FloatStorage]) {
        var state = FitState()
        state.epoch = 2
        state.batch = 17
        state.step = 1705
        state.metrics.samples = 544
        state.metrics.lossSum = 0.1 + 0.2
        state.metrics.correct = 501
        state.epochSeconds = 1e-300 + 2.000000000000001
        let a = storage(Self.values), b = storage([3, 4, 5, 6, 7, 8])
        let header = TestHeader(note: "ünïcödé \"quoted\"\n", training: state,
                                tensors: [CheckpointTensor(name: "parameters/dense/kernel", shape: [3, 3]),
                                          CheckpointTensor(name: "optimizer/m", shape: [2, 3])])
        return (header, [a, b])
    }

    func written(_ scratch: TemporaryDirectory) throws -> (path: String, bytes: [UInt8]) {
        let (header, tensors) = sample()
        let path = scratch("a.ckpt")
        try CheckpointFile<TestHeader>.write(header: header, tensors: tensors.map(\.view), to: path)
        return (path, try FileIO.read(path))
    }

    @Test("a written checkpoint reads back exactly: header, doubles and tensor bits")
    func roundTrip() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let (path, _) = try written(scratch)
        let file = try CheckpointFile<TestHeader>(path: path)
        let (header, tensors) = sample()
        #expect(file.header == header)
        #expect(file.header.training.metrics.lossSum == 0.1 + 0.2)
        #expect(file.header.training.epochSeconds == 1e-300 + 2.000000000000001)
        let back = FloatStorage(count: 9)
        try file.copy("parameters/dense/kernel", into: back.view)
        #expect(back.array.map(\.bitPattern) == tensors[0].array.map(\.bitPattern))
        let m = FloatStorage(count: 6)
        try file.copy("optimizer/m", into: m.view)
        #expect(m.array == [3, 4, 5, 6, 7, 8])
        // Asking for what is not there, or into the wrong size, is an error, not a trap.
        #expect(throws: CheckpointError.self) { try file.copy("optimizer/v", into: m.view) }
        let wrong = try #require(throws: CheckpointError.self) { try file.copy("optimizer/m", into: back.view) }
        #expect(wrong.kind == .mismatch)
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["a.ckpt"])
    }

    @Test("writing over a checkpoint replaces it whole")
    func replace() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let (path, _) = try written(scratch)
        var (header, tensors) = sample()
        header.note = "second"
        tensors[1].view[0] = 42
        try CheckpointFile<TestHeader>.write(header: header, tensors: tensors.map(\.view), to: path)
        let file = try CheckpointFile<TestHeader>(path: path)
        #expect(file.header.note == "second")
        let m = FloatStorage(count: 6)
        try file.copy("optimizer/m", into: m.view)
        #expect(m.view[0] == 42)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["a.ckpt"])
    }

    struct BadCase: CustomTestStringConvertible, Sendable {
        let label: String
        let kind: CheckpointError.Kind
        let message: String
        let damage: @Sendable ([UInt8]) -> [UInt8]
        var testDescription: String { label }
    }

    /// Rewrites the SHA-256 trailer so a damaged file passes the checksum (to reach later checks).
    static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        let body = Array(bytes.dropLast(32))
        return body + Checksum.sha256Digest(body)
    }

    static func headerLength(_ bytes: [UInt8]) -> Int { Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 }

    static let badCases: [BadCase] = [
        BadCase(label: "empty file", kind: .notACheckpoint, message: "the file is empty") { _ in [] },
        BadCase(label: "another file type", kind: .notACheckpoint, message: "does not start with") {
            Array("{\"kind\": \"step\"}".utf8) + $0.dropFirst(16)
        },
        BadCase(label: "cut inside the prefix", kind: .truncated, message: "shorter than the 24-byte prefix") { Array($0.prefix(20)) },
        BadCase(label: "cut inside the header", kind: .truncated, message: "where its lengths say") { Array($0.prefix(60)) },
        BadCase(label: "cut inside the tensors", kind: .truncated, message: "where its lengths say") {
            Array($0.prefix(24 + headerLength($0) + 10))
        },
        BadCase(label: "last byte missing", kind: .truncated, message: "where its lengths say") { Array($0.dropLast()) },
        BadCase(label: "a byte appended", kind: .corrupt, message: "1 bytes after the end") { $0 + [0] },
        BadCase(label: "a header byte changed", kind: .corrupt, message: "SHA-256 mismatch") { b in
            var b = b; b[30] ^= 0x20; return b
        },
        BadCase(label: "a tensor bit flipped", kind: .corrupt, message: "SHA-256 mismatch") { b in
            var b = b; b[b.count - 40] ^= 0x01; return b
        },
        BadCase(label: "the checksum changed", kind: .corrupt, message: "SHA-256 mismatch") { b in
            var b = b; b[b.count - 1] ^= 0xFF; return b
        },
        BadCase(label: "a future format version", kind: .futureVersion, message: "format 2; this runner reads format 1") { b in
            var b = b; b[8] = 2; return b
        },
        BadCase(label: "format version 0", kind: .corrupt, message: "format version 0") { b in
            var b = b; b[8] = 0; return b
        },
        BadCase(label: "sealed, but the header is not JSON", kind: .corrupt, message: "its header cannot be read") { b in
            var b = b; b[24] = UInt8(ascii: "!"); return resealed(b)
        },
        BadCase(label: "sealed, but a header key is missing", kind: .corrupt, message: "missing 'training.step'") { b in
            let text = String(decoding: b, as: UTF8.self)
            guard let range = text.range(of: "\"step\"") else { return b }
            var b = b
            let at = text.utf8.distance(from: text.utf8.startIndex, to: range.lowerBound)
            b.replaceSubrange(at..<(at + 6), with: Array("\"stap\"".utf8))
            return resealed(b)
        },
        BadCase(label: "sealed, but the tensor table does not cover the tensors", kind: .corrupt, message: "tensor table covers") { b in
            // optimizer/m's shape [2, 3] → [2, 2] (the JSON is pretty-printed with sorted keys).
            let text = String(decoding: b, as: UTF8.self)
            guard let name = text.range(of: "\"optimizer/m\""),
                  let shape = text.range(of: "\"shape\"", range: name.upperBound..<text.endIndex),
                  let three = text.range(of: "3", range: shape.upperBound..<text.endIndex) else { return b }
            var b = b
            b[text.utf8.distance(from: text.utf8.startIndex, to: three.lowerBound)] = UInt8(ascii: "2")
            return resealed(b)
        },
    ]

    @Test("an unusable file is an error that says which and why", arguments: badCases)
    func bad(_ c: BadCase) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let (path, bytes) = try written(scratch)
        let damaged = c.damage(bytes)
        #expect(damaged != bytes, "the damage changed nothing")
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: CheckpointError.self) { try CheckpointFile<TestHeader>(path: path) }
        #expect(error.kind == c.kind, "\(error)")
        #expect(error.path == path)
        #expect(error.description.contains(path) && error.description.contains(c.message), "\(error)")
    }

    @Test("a missing file is unreadable, naming it")
    func missing() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let error = try #require(throws: CheckpointError.self) { try CheckpointFile<TestHeader>(path: scratch("none.ckpt")) }
        #expect(error.kind == .unreadable)
        #expect(error.description.contains("none.ckpt"))
    }

    @Test("a checkpoint that cannot be written says so with its own path and the system's reason")
    func unwritable() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let (header, tensors) = sample()
        let path = scratch("gone/step-0000000001.ckpt")
        let error = try #require(throws: CheckpointError.self) {
            try CheckpointFile<TestHeader>.write(header: header, tensors: tensors.map(\.view), to: path)
        }
        #expect(error.kind == .unwritable)
        #expect(error.description.hasPrefix("error: checkpoint \(path): cannot be written: cannot create: "
                                            + "No such file or directory"), "\(error)")
        #expect(!error.description.contains("partial"))
    }
}

@Suite("Resuming a fit from a checkpoint file")
struct FitResumeTests {
    let data = quadrants(count: 600, seed: 3)

    func tensors(_ trainer: Trainer) -> ([CheckpointTensor], [FloatView]) {
        var names = [CheckpointTensor(name: "parameters", shape: [trainer.model.parameters.count]),
                     CheckpointTensor(name: "state", shape: [trainer.model.state.count])]
        var views = [trainer.model.parameters.view, trainer.model.state.view]
        for (name, values) in trainer.optimizer.state {
            names.append(CheckpointTensor(name: "optimizer/" + name, shape: [values.count]))
            views.append(values.view)
        }
        return (names, views)
    }

    @Test("stopped at any step (mid-epoch included), saved, loaded into a new trainer: the same final weights",
          arguments: [1, 23, 30, 31, 59, 88])
    func resume(at stopStep: Int) throws {
        let (training, validation) = Subset.split(data, validationFraction: 0.2)
        let stopping = EarlyStopping.Config(monitor: .valLoss, patience: 5)
        func fit(_ trainer: Trainer, from state: FitState? = nil, stop: Int? = nil) -> FitHistory {
            trainer.fit(training, validation: validation,
                        FitOptions(epochs: 3, batchSize: 16, earlyStopping: stopping, resumedState: state),
                        callbacks: FitCallbacks(afterStep: { $0.step == stop ? .stop : .proceed }))
        }
        let whole = try makeTrainer(seed: 9, threads: 2)
        let reference = fit(whole)
        #expect(!reference.interrupted)

        let first = try makeTrainer(seed: 9, threads: 1)
        let stopped = fit(first, stop: stopStep)
        #expect(stopped.interrupted)
        #expect(stopped.state.step == stopStep)
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let (names, views) = tensors(first)
        try CheckpointFile<TestHeader>.write(header: TestHeader(note: "", training: stopped.state, tensors: names),
                                             tensors: views, to: scratch("s.ckpt"))

        let file = try CheckpointFile<TestHeader>(path: scratch("s.ckpt"))
        let second = try makeTrainer(seed: 9, threads: 2)
        let (secondNames, secondViews) = tensors(second)
        for (tensor, view) in zip(secondNames, secondViews) { try file.copy(tensor.name, into: view) }
        second.resume(atStep: file.header.training.step)
        let finished = fit(second, from: file.header.training)
        #expect(!finished.interrupted)
        #expect(second.model.parameters.array == whole.model.parameters.array)
        #expect(finished.state.history == reference.state.history.map { e in
            // Seconds differ from run to run; everything else must not.
            EpochSummary(epoch: e.epoch, training: e.training, validation: e.validation, learningRate: e.learningRate,
                         seconds: finished.state.history[e.epoch].seconds)
        })
        #expect(finished.state.tracker == reference.state.tracker)
    }
}
