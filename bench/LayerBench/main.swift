// Per-layer timings of one training step of an experiment's model: each layer's forward and
// backward on a batch of random inputs, run many times; prints the median and the minimum of
// each. With --threads 1 the figures are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which
// other processes on a shared machine disturb far less than wall-clock time; with more threads,
// wall-clock time. With --images DIR the input is the first training images of the MNIST files in
// DIR (pixels / 255, as `scale: 255` makes them: mostly zeros, which some paths skip) instead of
// uniform noise.
//
//   swift run -c release layer-bench experiments/cnn.yaml [--threads N] [--reps R] [--batch B] [--images DIR]
import Datasets
import Experiments
import Foundation
import Kernels
import NeuralNetwork

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else {
        return fallback
    }
    return v
}
let threads = option("--threads", 1), reps = option("--reps", 50)
guard let path = arguments.first(where: { $0.hasSuffix(".yaml") }) else {
    print("usage: layer-bench FILE.yaml [--threads N] [--reps R] [--batch B] [--images DIR]")
    exit(64)
}
let spec = try ExperimentSpec.load(path: path)
let batch = option("--batch", spec.train.batchSize)
let compiled = try spec.compile(maxBatch: batch)
let model = compiled.model
let pool: ThreadPool? = threads > 1 ? ThreadPool(threadCount: threads) : nil

let clock: clockid_t = threads > 1 ? clockid_t(CLOCK_MONOTONIC) : clockid_t(CLOCK_THREAD_CPUTIME_ID)
func now() -> Double {
    var t = timespec()
    clock_gettime(clock, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

// Activations and gradients of every layer, filled with something ReLU-like.
var stream = RandomStream(seed: 1, name: "bench")
let input = FloatStorage(count: batch * model.inputShape.count)
if let flag = arguments.firstIndex(of: "--images"), flag + 1 < arguments.count {
    let images = try DatasetLocator(explicitDirectory: arguments[flag + 1]).load("mnist").train
    precondition(images.imageSize * batch == input.count, "the model's input is not one MNIST image")
    for i in 0..<input.count { input.view[i] = Float(images.pixels[i]) / 255 }
} else {
    for i in 0..<input.count { input.view[i] = stream.nextUniform() }
}
var outputs: [FloatStorage] = [], gradients: [FloatStorage] = []
for (i, layer) in model.layers.enumerated() {
    // A layer that aliases its input (flatten, a pooling fused into the convolution before it)
    // shares that layer's output.
    outputs.append(layer.aliasesInput ? (i == 0 ? input : outputs[i - 1])
                                      : FloatStorage(count: batch * layer.outputShape.count))
    let g = FloatStorage(count: batch * max(layer.outputShape.count, layer.inputShape.count))
    gradients.append(g)
}
// As the model's backward: the first layer with trainable parameters computes no dx.
let firstTrainable = model.layers.firstIndex { $0.parameterSpecs.contains(where: \.trainable) } ?? model.layers.count
var times: [(name: String, forward: [Double], backward: [Double])] =
    model.layers.map { ("\($0.name) (\($0.kind))", [], []) }
for rep in 0..<reps + 3 {
    let context = PassContext(training: true, seed: 1, step: UInt64(rep), pool: pool)
    var x = input.view
    for (i, layer) in model.layers.enumerated() {
        let start = now()
        layer.forward(x: x, y: outputs[i].view, batch: batch, context: context)
        if rep >= 3 { times[i].forward.append(now() - start) }
        x = outputs[i].view
    }
    for i in stride(from: model.layers.count - 1, through: 0, by: -1) {
        let layer = model.layers[i]
        if layer.aliasesInput || i < firstTrainable {
            if rep >= 3 { times[i].backward.append(0) }
            continue
        }
        let dy = gradients[i].view
        for j in 0..<batch * layer.outputShape.count { dy[j] = Float(j % 7) * 0.01 - 0.03 }
        let start = now()
        layer.backward(x: i == 0 ? input.view : outputs[i - 1].view, y: outputs[i].view, dy: dy,
                       dx: i <= firstTrainable ? nil : gradients[i - 1].view, batch: batch, context: context)
        if rep >= 3 { times[i].backward.append(now() - start) }
    }
}
func ms(_ values: [Double]) -> (median: Double, min: Double) {
    let sorted = values.sorted()
    return (sorted[sorted.count / 2] * 1000, (sorted.first ?? 0) * 1000)
}
print("\(path): batch \(batch), \(threads) thread(s), \(reps) reps; ms per call, median (min)")
var total = (0.0, 0.0)
for t in times {
    let f = ms(t.forward), b = ms(t.backward)
    total.0 += f.median + b.median
    total.1 += f.min + b.min
    print(String(format: "  %-36@ forward %7.3f (%7.3f)   backward %7.3f (%7.3f)", t.name as NSString,
                 f.median, f.min, b.median, b.min))
}
print(String(format: "  total %.3f (%.3f)", total.0, total.1))
