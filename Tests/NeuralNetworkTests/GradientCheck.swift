// Finite-difference gradient checks (Caffe's GradientChecker, in spirit): for a random projection
// r of the output, L = Σ r·y; each analytic dL/dx and dL/dθ must match (L(x+h) − L(x−h)) / 2h.
import Kernels
import NeuralNetwork
import Testing

/// One layer with its own memory, outside any model, so the input gradient can be inspected.
final class Harness {
    let layer: any Layer
    let batch: Int
    let parameters: FloatStorage
    let gradients: FloatStorage
    let x: FloatStorage, y: FloatStorage, dy: FloatStorage, dx: FloatStorage
    var scratch: FloatStorage?
    let context: PassContext

    init(_ layer: any Layer, batch: Int, training: Bool = true, seed: UInt64 = 7) {
        self.layer = layer
        self.batch = batch
        context = PassContext(training: training, seed: seed, step: 3)
        let total = layer.parameterSpecs.reduce(0) { $0 + $1.count }
        parameters = FloatStorage(count: total)
        gradients = FloatStorage(count: total)
        var offset = 0, values: [FloatView] = [], grads: [FloatView] = []
        var stream = RandomStream(seed: seed, name: "harness")
        for spec in layer.parameterSpecs {
            let v = parameters.view(offset: offset, count: spec.count)
            // Random values everywhere (a zero bias would hide a wrong bias gradient); state tensors
            // (batch norm's moving statistics) positive, as statistics a variance among them are.
            for i in 0..<v.count {
                v[i] = spec.trainable ? stream.nextNormal() * 0.5 : abs(stream.nextNormal()) + 0.5
            }
            values.append(v)
            grads.append(gradients.view(offset: offset, count: spec.count))
            offset += spec.count
        }
        layer.bind(parameters: values, gradients: grads)
        if layer.scratchCount(batch: batch) > 0 {
            let s = FloatStorage(count: layer.scratchCount(batch: batch))
            layer.bind(scratch: s.view)
            scratch = s
        }
        x = FloatStorage(count: batch * layer.inputShape.count)
        y = FloatStorage(count: batch * layer.outputShape.count)
        dy = FloatStorage(count: batch * layer.outputShape.count)
        dx = FloatStorage(count: batch * layer.inputShape.count)
    }

    /// L = Σ r·y for input `input`.
    func loss(_ input: [Float], _ r: [Float]) -> Double {
        x.view.assign(input)
        let out = layer.aliasesInput ? x.view : y.view
        layer.forward(x: x.view, y: out, batch: batch, context: context)
        var total = 0.0
        for i in 0..<r.count { total += Double(r[i]) * Double(out[i]) }
        return total
    }

    /// Analytic (dL/dx, dL/dθ).
    func analytic(_ input: [Float], _ r: [Float]) -> ([Float], [Float]) {
        _ = loss(input, r)
        gradients.view.fill(0)
        dy.view.assign(r)
        let out = layer.aliasesInput ? x.view : y.view
        layer.backward(x: x.view, y: out, dy: dy.view, dx: dx.view, batch: batch, context: context)
        return (dx.array, gradients.array)
    }
}

/// Checks every input derivative and every trainable parameter's (state tensors have no
/// gradient: the model never asks for one). Kinks: `skip(x)` excludes inputs sitting on one (e.g.
/// ReLU at 0); with `kinks: true`, a perturbation that changes which outputs are positive crossed a
/// ReLU kink inside the layer and is not compared. `input` replaces the random input.
func checkGradients(_ layer: any Layer, batch: Int = 3, input given: [Float]? = nil, step h: Float = 1e-2,
                    tolerance: Double = 5e-3, training: Bool = true, skip: (Float) -> Bool = { _ in false },
                    kinks: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
    let harness = Harness(layer, batch: batch, training: training)
    var stream = RandomStream(seed: 11, name: "check")
    let input = given ?? (0..<batch * layer.inputShape.count).map { _ in stream.nextNormal() }
    let r = (0..<batch * layer.outputShape.count).map { _ in stream.nextNormal() }
    let (dx, dtheta) = harness.analytic(input, r)
    let signs = { (layer.aliasesInput ? harness.x : harness.y).array.map { $0 > 0 } }
    let pattern = signs()

    var checked = 0, crossed = 0
    func compare(_ analytic: Float, _ what: String, _ loss: (Float) -> Double) {
        let lp = loss(h), plus = signs()
        let lm = loss(-h), minus = signs()
        if kinks && (plus != pattern || minus != pattern) {
            crossed += 1
            return
        }
        let numeric = (lp - lm) / Double(2 * h)
        let scale = max(1, abs(numeric), Double(abs(analytic)))
        #expect(abs(Double(analytic) - numeric) <= tolerance * scale,
                "\(layer.kind) \(what): analytic \(analytic), numeric \(numeric)", sourceLocation: sourceLocation)
        checked += 1
    }

    var skipped = 0
    for i in 0..<input.count {
        if skip(input[i]) {
            skipped += 1
            continue
        }
        compare(dx[i], "dx[\(i)]") { delta in
            var moved = input
            moved[i] += delta
            return harness.loss(moved, r)
        }
    }
    #expect(skipped <= input.count / 2, "too many inputs skipped", sourceLocation: sourceLocation)
    let params = harness.parameters.view
    var offset = 0
    for spec in layer.parameterSpecs {
        defer { offset += spec.count }
        guard spec.trainable else { continue }
        for j in offset..<offset + spec.count {
            let saved = params[j]
            compare(dtheta[j], "\(spec.name)[\(j - offset)]") { delta in
                params[j] = saved + delta
                defer { params[j] = saved }
                return harness.loss(input, r)
            }
        }
    }
    #expect(crossed * 10 <= checked, "too many perturbations crossed a kink (\(crossed) of \(checked + crossed))",
            sourceLocation: sourceLocation)
}

@Suite("Finite-difference gradient checks")
struct GradientChecks {
    @Test("dense, each activation", arguments: Activation.allCases)
    func dense(_ activation: Activation) throws {
        // ReLU's kink at z = 0 is not skipped here: with these fixed seeds no pre-activation lies
        // within a step of 0 (a failure would name the element if one did).
        let layer = try Dense(.init(units: 4, activation: activation), inputShape: Shape([5]))
        checkGradients(layer)
    }

    @Test("dense without bias")
    func denseNoBias() throws {
        var config = Dense.Config(units: 3, activation: .tanh)
        config.useBias = false
        let layer = try Dense(config, inputShape: Shape([4]))
        #expect(layer.parameterSpecs.count == 1)
        checkGradients(layer)
    }

    @Test("activation layer", arguments: Activation.allCases)
    func activation(_ activation: Activation) {
        let layer = ActivationLayer(.init(activation: activation), inputShape: Shape([6]))
        // ReLU: skip inputs within the step of the kink at 0.
        checkGradients(layer, skip: { activation == .relu && abs($0) < 2e-2 })
    }

    @Test("dropout in training mode (fixed mask) and in inference")
    func dropout() {
        checkGradients(Dropout(.init(rate: 0.4), inputShape: Shape([2, 5])), training: true)
        checkGradients(Dropout(.init(rate: 0.4), inputShape: Shape([7])), training: false)
    }

    @Test("flatten passes gradients through")
    func flatten() {
        let layer = Flatten(inputShape: Shape([2, 3]))
        #expect(layer.outputShape == Shape([6]))
        #expect(layer.aliasesInput)
    }

    @Test("cross-entropy losses, gradient with respect to the logits", arguments: [false, true])
    func crossEntropy(sparse: Bool) {
        let loss = CrossEntropy(sparse: sparse)
        let n = 4, c = 5
        var stream = RandomStream(seed: 5, name: "ce")
        let logits = (0..<n * c).map { _ in stream.nextNormal() * 3 }
        var targets: [Float]
        if sparse {
            targets = (0..<n).map { _ in Float(stream.nextInt(below: c)) }
        } else {
            // Soft targets, not just one-hot: the gradient formula must hold for any distribution.
            targets = []
            for _ in 0..<n {
                let raw = (0..<c).map { _ in stream.nextUniform() + 0.1 }
                let total = raw.reduce(0, +)
                targets += raw.map { $0 / total }
            }
        }
        let z = FloatStorage(logits), t = FloatStorage(targets)
        let p = FloatStorage(count: n * c), l = FloatStorage(count: n), g = FloatStorage(count: n * c)
        func mean(_ values: [Float]) -> Double {
            z.view.assign(values)
            loss.evaluate(logits: z.view, targets: t.view, batch: n, classes: c, probabilities: p.view,
                          losses: l.view, gradient: nil)
            return l.array.reduce(0.0) { $0 + Double($1) } / Double(n)
        }
        z.view.assign(logits)
        loss.evaluate(logits: z.view, targets: t.view, batch: n, classes: c, probabilities: p.view,
                      losses: l.view, gradient: g.view)
        let analytic = g.array
        let h: Float = 1e-2
        for i in 0..<logits.count {
            var plus = logits, minus = logits
            plus[i] += h
            minus[i] -= h
            let numeric = (mean(plus) - mean(minus)) / Double(2 * h)
            #expect(abs(Double(analytic[i]) - numeric) < 1e-3, "dz[\(i)]: \(analytic[i]) vs \(numeric)")
        }
    }
}
