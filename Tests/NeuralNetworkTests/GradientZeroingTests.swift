// Which gradients the model zeroes before a backward: the layers that add to theirs (convolutions,
// batch normalization), not those that write theirs (dense layers, `writesGradients`). Whatever
// the gradient vector held before, a step leaves the same bits.
import Foundation
import Kernels
import NeuralNetwork
import Testing

@Suite("Gradients zeroed or written")
struct GradientZeroingTests {
    @Test("a backward's gradients do not depend on what the vector held before it")
    func staleGradientsDoNotLeak() throws {
        let layers: [(String, String)] = [
            ("conv2d", #"{"filters": 5, "kernel_size": 3}"#), ("batch_normalization", "{}"),
            ("flatten", "{}"), ("dense", #"{"units": 7, "activation": "relu"}"#),
            ("dense", #"{"units": 3, "use_bias": false}"#),
        ]
        let model = try buildModel(layers, input: [6, 6, 1], maxBatch: 4, fuse: false)
        #expect(model.layers.map(\.writesGradients) == [false, false, false, true, true])
        func gradients(stale: Float) -> [UInt32] {
            let context = PassContext(training: true, seed: 3, step: 1, pool: ThreadPool(threadCount: 2))
            let input = model.input.view
            for i in 0..<4 * model.inputShape.count { input[i] = Float(sin(Double(i) * 0.7)) }
            _ = model.forward(batch: 4, context: context)
            let dy = model.outputGradient
            for i in 0..<4 * model.outputCount { dy[i] = Float(cos(Double(i) * 0.3)) }
            model.gradients.view.fill(stale)
            model.zeroGradients(pool: context.pool)
            model.backward(batch: 4, context: context)
            return model.gradients.array.map(\.bitPattern)
        }
        let clean = gradients(stale: 0), stale = gradients(stale: 7)
        let differing = zip(clean, stale).filter { $0 != $1 }.count
        #expect(clean.count == stale.count && differing == 0, "\(differing) of \(clean.count) gradients differ")
        #expect(clean.contains { Float(bitPattern: $0) != 0 })
    }
}
