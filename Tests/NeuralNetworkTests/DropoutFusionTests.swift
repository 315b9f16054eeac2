// A dense layer with a ReLU applying the dropout layer after it (`Dense.fuse`): the mask in the
// bias-and-ReLU pass, its gradient in the ReLU's backward — the bits of the separate layers, on any
// thread count, with rows cut between the pass's chunks.
import Foundation
import Kernels
import NeuralNetwork
import Testing

@Suite("Dense layers applying the dropout after them")
struct DropoutFusionTests {
    /// 601 units at batch 9: 5,409 activations, so the pass's second chunk (from element 4,096)
    /// starts inside a row; 37 units: rows of two vectors and a part.
    static let specs: [(String, String)] = [
        ("flatten", "{}"),
        ("dense", #"{"units": 601, "activation": "relu"}"#), ("dropout", #"{"rate": 0.3}"#),
        ("dense", #"{"units": 37, "activation": "relu", "use_bias": false}"#), ("dropout", #"{"rate": 0.5}"#),
        ("dense", #"{"units": 3}"#),
    ]

    @Test("fused and separate layers give the same bits, on 1 and 2 threads")
    func sameBits() throws {
        for batch in [2, 9] {
            func model(fuse: Bool) throws -> Sequential {
                try buildModel(Self.specs, input: [5, 7], maxBatch: 9, fuse: fuse)
            }
            let fused = try model(fuse: true)
            #expect(fused.layers.compactMap { ($0 as? Dropout)?.fusedIntoPrevious } == [true, true])
            #expect(fused.layers.compactMap { ($0 as? Dense)?.pathName?.hasSuffix("-dropout") } == [true, true, false])
            #expect(fused.layers.compactMap { ($0 as? Dropout)?.pathName } == ["in-dense", "in-dense"])
            let separate = try model(fuse: false)
            #expect(separate.layers.compactMap { ($0 as? Dropout)?.fusedIntoPrevious } == [false, false])
            let reference = trainingStepBits(separate, batch: batch, threads: 1)
            #expect(trainingStepBits(fused, batch: batch, threads: 2) == reference)
            #expect(trainingStepBits(try model(fuse: true), batch: batch, threads: 1) == reference)
            // The gradients are not all zero (the test would pass on a model that learns nothing).
            #expect(reference[1].contains { Float(bitPattern: $0) != 0 })
        }
    }

    @Test("a dense layer without ReLU keeps its dropout separate")
    func onlyAfterReLU() throws {
        let model = try buildModel([("flatten", "{}"), ("dense", #"{"units": 8, "activation": "tanh"}"#),
                                    ("dropout", #"{"rate": 0.3}"#), ("dense", #"{"units": 3}"#)], input: [4], maxBatch: 2)
        #expect(model.layers.compactMap { ($0 as? Dropout)?.fusedIntoPrevious } == [false])
    }

    @Test("the pass's mask: bias, ReLU and dropout as the separate passes, Swift and AVX-512, 1 and 2 threads",
          arguments: [(3, 37), (9, 601), (64, 512)])
    func forwardPass(_ rows: Int, _ cols: Int) {
        var s = RandomStream(seed: 5, name: "fused dropout input")
        let z = (0..<rows * cols).map { _ in s.nextNormal() }
        let bias = FloatStorage((0..<cols).map { _ in s.nextNormal() * 0.5 })
        let stream = RandomStream(seed: 2, name: "dropout/d", index: 7)
        // The separate passes: y = relu(z + b), then dropout.
        let y = FloatStorage(z), out = FloatStorage(count: z.count), mask = FloatStorage(count: z.count)
        biasActivationForward(y.view, rows: rows, cols: cols, bias: bias.view, activation: .relu, pool: nil)
        dropoutForward(x: y.view, y: out.view, mask: mask.view, count: z.count, rate: 0.4, stream: stream)
        let expected = out.array
        #expect(expected.contains { $0 > 0 } && mask.array.contains(0))
        var codes: [VectorCode] = [.portable]
        if VectorCode.avx512.isAvailable { codes.append(.avx512) }
        for code in codes {
            for threads in [1, 2] {
                let fused = FloatStorage(z)
                biasActivationForward(fused.view, rows: rows, cols: cols, bias: bias.view, activation: .relu,
                                      dropout: DropoutDraw(rate: 0.4, stream: stream), code: code,
                                      pool: ThreadPool(threadCount: threads))
                #expect(fused.array.map(\.bitPattern) == expected.map(\.bitPattern), "\(code), \(threads) threads")
            }
        }
    }

    @Test("the backward pass: the dropout's dy · mask and the ReLU's select in one, 1 and 2 threads")
    func backwardPass() {
        let rows = 9, cols = 601, count = rows * cols
        var s = RandomStream(seed: 6, name: "fused dropout backward")
        let z = (0..<count).map { _ in s.nextNormal() }
        let dy = (0..<count).map { _ in s.nextNormal() }
        let stream = RandomStream(seed: 3, name: "dropout/d", index: 2)
        // Separate: y = relu(z), y₂ = dropout(y); back: d = dy₂ · mask, then the ReLU's select on y.
        let y = FloatStorage(z), y2 = FloatStorage(count: count), mask = FloatStorage(count: count)
        biasActivationForward(y.view, rows: rows, cols: cols, bias: nil, activation: .relu, pool: nil)
        dropoutForward(x: y.view, y: y2.view, mask: mask.view, count: count, rate: 0.25, stream: stream)
        let separate = FloatStorage(count: count)
        dropoutBackward(dy: FloatStorage(dy).view, mask: mask.view, into: separate.view, count: count, pool: nil)
        activationBackward(y: y.view, dy: separate.view, rows: rows, cols: cols, activation: .relu,
                           biasGradient: nil, pool: nil)
        let expected = separate.array
        #expect(expected.contains { $0 != 0 } && y.array.contains { $0 > 0 })
        for threads in [1, 2] {
            let fused = FloatStorage(dy)
            activationBackward(y: y2.view, dy: fused.view, rows: rows, cols: cols, activation: .relu,
                               biasGradient: nil, dropoutKeep: 1 / (1 - 0.25), pool: ThreadPool(threadCount: threads))
            // Equal as numbers: a dropped element is +0 here and ±0 (dy · 0) there.
            #expect(fused.array == expected)
            #expect(zip(fused.array, expected).allSatisfy { $0 == 0 || $0.bitPattern == $1.bitPattern })
        }
    }
}
