// Label smoothing on both cross-entropies (Keras's categorical label_smoothing; for integer labels
// PyTorch's CrossEntropyLoss formula, the same): the loss by hand, the gradient by finite
// differences, ε = 0 unchanged.
import Foundation
import Kernels
import NeuralNetwork
import Testing

/// Per-sample losses and (when asked) the gradient of the batch's mean loss.
func crossEntropy(_ loss: CrossEntropy, logits: [Float], targets: [Float], batch: Int, classes: Int,
                  gradient: Bool = false) -> (losses: [Float], gradient: [Float]) {
    let z = FloatStorage(logits), t = FloatStorage(targets)
    let p = FloatStorage(count: batch * classes), l = FloatStorage(count: batch), g = FloatStorage(count: batch * classes)
    loss.evaluate(logits: z.view, targets: t.view, batch: batch, classes: classes, probabilities: p.view,
                  losses: l.view, gradient: gradient ? g.view : nil)
    return (l.array, g.array)
}

@Suite("Label smoothing")
struct LabelSmoothingTests {
    let logits: [Float] = [1.0, -0.5, 2.0, 0.3, /**/ -1.2, 0.7, 0.1, 1.5]
    let labels: [Float] = [2, 1]
    var oneHot: [Float] { [0, 0, 1, 0, /**/ 0, 1, 0, 0] }

    /// −Σ_j ((1 − ε)·t_j + ε/K)·log softmax(z)_j in Double, per row.
    func reference(_ targets: [Float], epsilon: Double) -> [Double] {
        (0..<2).map { r in
            let z = logits[(r * 4)..<(r * 4 + 4)].map(Double.init)
            let logTotal = log(z.map { exp($0) }.reduce(0, +))
            return -(0..<4).reduce(0.0) { sum, j in
                sum + ((1 - epsilon) * Double(targets[r * 4 + j]) + epsilon / 4) * (z[j] - logTotal)
            }
        }
    }

    @Test("loss: −Σ t'·log p with t' = (1 − ε)·t + ε/K, for one-hot targets and for labels alike")
    func loss() {
        for epsilon: Float in [0.1, 0.3, 1] {
            let expected = reference(oneHot, epsilon: Double(epsilon))
            let categorical = crossEntropy(CrossEntropy(sparse: false, config: .init(labelSmoothing: epsilon)),
                                           logits: logits, targets: oneHot, batch: 2, classes: 4).losses
            let sparse = crossEntropy(CrossEntropy(sparse: true, config: .init(labelSmoothing: epsilon)),
                                      logits: logits, targets: labels, batch: 2, classes: 4).losses
            for r in 0..<2 {
                #expect(abs(Double(categorical[r]) - expected[r]) < 1e-5, "ε \(epsilon): \(categorical) vs \(expected)")
                #expect(abs(Double(sparse[r]) - expected[r]) < 1e-5, "ε \(epsilon): \(sparse) vs \(expected)")
            }
        }
        // ε = 0 is the plain cross-entropy, bit for bit.
        let plain = crossEntropy(CrossEntropy(sparse: false), logits: logits, targets: oneHot, batch: 2, classes: 4,
                                 gradient: true)
        let zero = crossEntropy(CrossEntropy(sparse: false, config: .init(labelSmoothing: 0)), logits: logits,
                                targets: oneHot, batch: 2, classes: 4, gradient: true)
        #expect(plain.losses == zero.losses && plain.gradient == zero.gradient)
    }

    @Test("gradient: (p − t')/N matches central differences of the mean loss", arguments: [false, true])
    func gradient(sparse: Bool) {
        let loss = CrossEntropy(sparse: sparse, config: .init(labelSmoothing: 0.2))
        let targets = sparse ? labels : oneHot
        let analytic = crossEntropy(loss, logits: logits, targets: targets, batch: 2, classes: 4, gradient: true).gradient
        func mean(_ z: [Float]) -> Double {
            crossEntropy(loss, logits: z, targets: targets, batch: 2, classes: 4).losses.reduce(0) { $0 + Double($1) } / 2
        }
        let h: Float = 1e-2
        for i in 0..<logits.count {
            var up = logits, down = logits
            up[i] += h
            down[i] -= h
            let numeric = (mean(up) - mean(down)) / Double(2 * h)
            #expect(abs(numeric - Double(analytic[i])) < 2e-3, "logit \(i): numeric \(numeric), analytic \(analytic[i])")
        }
        // The smoothed gradient of a row sums to 0 (Σp = Σt' = 1) and differs from the plain one.
        #expect(abs(analytic[0..<4].reduce(0, +)) < 1e-6)
        let plain = crossEntropy(CrossEntropy(sparse: sparse), logits: logits, targets: targets, batch: 2, classes: 4,
                                 gradient: true).gradient
        #expect(abs(analytic[2] - plain[2] - 0.2 * 0.75 / 2) < 1e-6)   // t'_label = 1 − ε + ε/K = 0.85, not 1
    }

    @Test("label_smoothing is read from the loss entry, in [0, 1]")
    func decoding() throws {
        let config = try JSONDecoder().decode(CrossEntropy.Config.self, from: Data(#"{"label_smoothing": 0.1}"#.utf8))
        #expect(config.labelSmoothing == 0.1 && !config.fromLogits)
        #expect(throws: ConfigError.self) {
            try JSONDecoder().decode(CrossEntropy.Config.self, from: Data(#"{"label_smoothing": 1.5}"#.utf8))
        }
    }
}
