// One training step of a model on fixed inputs and output gradients, as bits: what the fusion
// tests compare between a model built with and without `fuse`.
import Foundation
import Kernels
import NeuralNetwork

/// Output, parameter gradients and state (moving statistics) of one training step at step 1, then
/// the output in inference mode, as bit patterns.
func trainingStepBits(_ model: Sequential, batch: Int, threads: Int) -> [[UInt32]] {
    let pool = ThreadPool(threadCount: threads)
    let context = PassContext(training: true, seed: 9, step: 1, pool: pool)
    let input = model.input.view
    for i in 0..<batch * model.inputShape.count { input[i] = Float(sin(Double(i) * 0.37)) }
    let output = model.forward(batch: batch, context: context).array
    let gradient = model.outputGradient
    for i in 0..<batch * model.outputCount { gradient[i] = Float(cos(Double(i) * 0.13)) }
    model.zeroGradients(pool: pool)
    model.backward(batch: batch, context: context)
    let inference = model.forward(batch: batch, context: PassContext(training: false, pool: pool)).array
    return [output, model.gradients.array, model.state.array, inference].map { $0.map(\.bitPattern) }
}
