// Gradient clipping (clipnorm per tensor, global_clipnorm over all tensors, clipvalue) and
// per-tensor learning-rate multipliers: hand-computed steps, Keras's own clip examples, one option
// at most, and norms that do not depend on the thread count.
import Foundation
import Kernels
import NeuralNetwork
import Testing
import Training

/// Plain SGD at rate 1 over two tensors, [0, 2) and [2, 5): the update is −(clipped gradient).
func clippedStep(_ json: String, gradients: [Float], multipliers: [Float] = [1, 1], pool: ThreadPool? = nil) throws
    -> [Float] {
    let sgd = try optimizer("sgd", json)
    sgd.prepare(tensors: [TrainableTensor(range: 0..<2, learningRateMultiplier: multipliers[0]),
                          TrainableTensor(range: 2..<5, learningRateMultiplier: multipliers[1])])
    let w = FloatStorage(count: 5), g = FloatStorage(gradients)
    sgd.update(parameters: w.view, gradients: g.view, step: 1, learningRate: 1, pool: pool)
    return w.array.map { -$0 }
}

@Suite("Gradient clipping and rate multipliers")
struct ClippingTests {
    // Tensor norms: ‖(3, 4)‖ = 5, ‖(1, 2, 2)‖ = 3; global √(25 + 9) = √34.
    let g: [Float] = [3, 4, 1, 2, 2]

    @Test("clipnorm: each tensor separately, g·c/max(‖g‖, c)")
    func clipnorm() throws {
        let clipped = try clippedStep(#"{"clipnorm": 4}"#, gradients: g)
        // (3, 4)·4/5; (1, 2, 2) has norm 3 ≤ 4: unchanged.
        expectClose(clipped, [2.4, 3.2, 1, 2, 2], tolerance: 1e-6, "clipnorm")
        // Keras's test_clip_norm: [100, 100] with clipnorm 1 → [√2/2, √2/2].
        let sgd = try optimizer("sgd", #"{"clipnorm": 1}"#)
        sgd.prepare(parameterCount: 2)
        let w = FloatStorage(count: 2), grad = FloatStorage([100, 100])
        sgd.update(parameters: w.view, gradients: grad.view, step: 1, learningRate: 1, pool: nil)
        expectClose(w.array.map { -$0 }, [Double(0.5).squareRoot(), Double(0.5).squareRoot()], tolerance: 1e-6, "keras clipnorm")
    }

    @Test("global_clipnorm: all tensors together, g·c/max(‖G‖, c); NaN when ‖G‖ is not finite (Keras)")
    func globalClipnorm() throws {
        let s = 4 / 34.0.squareRoot()
        expectClose(try clippedStep(#"{"global_clipnorm": 4}"#, gradients: g), g.map { Double($0) * s },
                    tolerance: 1e-6, "global")
        expectClose(try clippedStep(#"{"global_clipnorm": 6}"#, gradients: g), g.map(Double.init), tolerance: 0, "under")
        let infinite = try clippedStep(#"{"global_clipnorm": 1}"#, gradients: [.infinity, 1, 1, 1, 1])
        #expect(infinite.allSatisfy { $0.isNaN })
    }

    @Test("clipvalue: every element into [−v, v] (Keras's test_clip_value: 100 → 1)")
    func clipvalue() throws {
        expectClose(try clippedStep(#"{"clipvalue": 2.5}"#, gradients: [3, -4, 1, 2, -2]), [2.5, -2.5, 1, 2, -2],
                    tolerance: 0, "clipvalue")
        expectClose(try clippedStep(#"{"clipvalue": 1}"#, gradients: [100, 100, 0, 0, 0]), [1, 1, 0, 0, 0],
                    tolerance: 0, "keras clipvalue")
    }

    @Test("one clipping option at most, each positive (Keras 3 refuses more than one)")
    func exclusive() throws {
        let error = #expect(throws: ConfigError.self) { try optimizer("adam", #"{"clipnorm": 1, "clipvalue": 0.5}"#) }
        #expect(error?.message.contains("give one of 'clipnorm', 'global_clipnorm' and 'clipvalue'") == true)
        #expect(error?.codingPath == ["clipvalue"])
        #expect(throws: ConfigError.self) { try optimizer("sgd", #"{"clipnorm": 1, "global_clipnorm": 1}"#) }
        let zero = #expect(throws: ConfigError.self) { try optimizer("sgd", #"{"global_clipnorm": 0}"#) }
        #expect(zero?.message == "'global_clipnorm' must be a positive number, found 0.0")
        // null is "not set", as in Keras's get_config.
        let none = try optimizer("nadam", #"{"clipnorm": null}"#)
        #expect(none.plan.clipping.isNone)
    }

    @Test("learning-rate multipliers: each run of tensors steps at rate × its multiplier")
    func multipliers() throws {
        // Tensor 0 at 2× (Caffe's bias lr_mult), tensor 1 frozen.
        expectClose(try clippedStep("{}", gradients: g, multipliers: [2, 0]), [6, 8, 0, 0, 0], tolerance: 0, "× 2, × 0")
        // Clipping comes first, on the raw gradient: (3, 4) → (2.4, 3.2), then × 0.5.
        expectClose(try clippedStep(#"{"clipnorm": 4}"#, gradients: g, multipliers: [0.5, 1]), [1.2, 1.6, 1, 2, 2],
                    tolerance: 1e-6, "clip, then × 0.5")
        // Adam with a multiplier m on every tensor steps exactly like Adam at rate lr·m.
        let w0: [Float] = [0.5, -1, 2, 0.25, 1], grads: [[Float]] = [g, g.map { -$0 / 2 }]
        let scaled = try optimizer("adam", "{}")
        scaled.prepare(tensors: [TrainableTensor(range: 0..<2, learningRateMultiplier: 4),
                                 TrainableTensor(range: 2..<5, learningRateMultiplier: 4)])
        let w = FloatStorage(w0), gradient = FloatStorage(count: 5)
        for (t, row) in grads.enumerated() {
            gradient.view.assign(row)
            scaled.update(parameters: w.view, gradients: gradient.view, step: t + 1, learningRate: 0.01, pool: nil)
        }
        #expect(w.array == stepped(try optimizer("adam", "{}"), from: w0, gradients: grads, lr: 0.04))
    }

    @Test("norms are summed chunk by chunk in a fixed order: the same bits for any thread count")
    func threadCounts() throws {
        var stream = RandomStream(seed: 11, name: "clip-threads")
        let count = 30_000
        let grads = (0..<count).map { _ in stream.nextNormal() }
        let tensors = [0..<12_345, 12_345..<12_350, 12_350..<count]
        func clipped(_ json: String, _ pool: ThreadPool?) throws -> [UInt32] {
            let sgd = try optimizer("sgd", json)
            sgd.prepare(tensors: tensors.map { TrainableTensor(range: $0) })
            let w = FloatStorage(count: count), g = FloatStorage(grads)
            sgd.update(parameters: w.view, gradients: g.view, step: 1, learningRate: 1, pool: pool)
            return w.array.map(\.bitPattern)
        }
        for json in [#"{"clipnorm": 1}"#, #"{"global_clipnorm": 1}"#] {
            let plain = try clipped(json, nil)
            #expect(plain == (try clipped(json, ThreadPool(threadCount: 2))))
            #expect(plain == (try clipped(json, ThreadPool(threadCount: 1))))
        }
        // And the norm is the sum of squares (Double accuracy, whatever the chunking).
        let norms = TensorNorms(tensors: tensors)
        norms.measure(FloatStorage(grads).view, pool: ThreadPool(threadCount: 2))
        let exact = grads[12_350...].reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(norms.squaredNorm(2) - exact) <= 1e-6 * exact)
    }

    @Test("a model's trainable tensors carry their multipliers into the optimizer's plan")
    func fromModel() throws {
        let trainer = try makeTrainer(seed: 1, threads: 1, dropout: false, optimizer: try optimizer("sgd", "{}"))
        trainer.model.setLearningRateMultiplier(2, layer: "hidden", parameter: "bias")
        let tensors = trainer.model.trainableTensors
        #expect(tensors.map(\.range) == [0..<1024, 1024..<1040, 1040..<1104, 1104..<1108])
        #expect(tensors.map(\.learningRateMultiplier) == [1, 2, 1, 1])
        trainer.optimizer.prepare(tensors: tensors)
        #expect(trainer.optimizer.plan.runs.map(\.range) == [0..<1024, 1024..<1040, 1040..<1108])
        #expect(trainer.optimizer.plan.runs.map(\.multiplier) == [1, 2, 1])
    }
}
