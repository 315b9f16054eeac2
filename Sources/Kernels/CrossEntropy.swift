// Softmax cross-entropy from logits, fused: the loss per sample and its gradient with respect to
// the logits, without ever taking the log of a probability that may have underflowed to 0.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the logits are compared with.
public enum CrossEntropyTargets {
    /// (rows × cols) probability rows, e.g. one-hot vectors (categorical_crossentropy).
    case distributions(FloatView)
    /// (rows) class indices stored as Floats (sparse_categorical_crossentropy).
    case labels(FloatView)
}

/// For each row r of `logits` z (rows × cols), with t the target distribution:
///   p = softmax(z),  loss[r] = -Σ_j t_j log p_j  with  log p_j = z_j - max(z) - log Σ_k e^(z_k - max(z))
///   gradient[r, j] = gradientScale · (p_j - t_j)           (when `gradient` is given)
/// With label smoothing ε > 0 the target is t' = (1 − ε)·t + ε/K (K = cols) in both formulas.
/// `probabilities` receives p. Rows are independent; nothing is summed across rows here.
public func softmaxCrossEntropy(logits: FloatView, targets: CrossEntropyTargets, rows: Int, cols: Int,
                                probabilities: FloatView, losses: FloatView,
                                gradient: FloatView?, gradientScale: Float, labelSmoothing: Float = 0) {
    if labelSmoothing != 0 {
        smoothedCrossEntropy(logits: logits, targets: targets, rows: rows, cols: cols, probabilities: probabilities,
                             losses: losses, gradient: gradient, gradientScale: gradientScale, epsilon: labelSmoothing)
        return
    }
    precondition(logits.count >= rows * cols && probabilities.count >= rows * cols && losses.count >= rows)
    if let gradient { precondition(gradient.count >= rows * cols) }
    for r in 0..<rows {
        let z = logits.base + r * cols, p = probabilities.base + r * cols
        let (top, logTotal) = softmaxRow(z, into: p, cols: cols)
        var loss: Float = 0
        switch targets {
        case .distributions(let t):
            precondition(t.count >= rows * cols)
            let tr = t.base + r * cols
            for j in 0..<cols where tr[j] != 0 { loss -= tr[j] * (z[j] - top - logTotal) }
            if let gradient {
                let g = gradient.base + r * cols
                for j in 0..<cols { g[j] = gradientScale * (p[j] - tr[j]) }
            }
        case .labels(let labels):
            precondition(labels.count >= rows)
            let label = Int(labels.base[r])
            precondition(label >= 0 && label < cols, "label \(label) outside 0..<\(cols)")
            loss = -(z[label] - top - logTotal)
            if let gradient {
                let g = gradient.base + r * cols
                for j in 0..<cols { g[j] = gradientScale * p[j] }
                g[label] -= gradientScale
            }
        }
        losses.base[r] = loss
    }
}

/// `softmaxCrossEntropy` against smoothed targets t' = (1 − ε)·t + ε/K (Keras's label_smoothing):
///   loss[r] = −Σ_j t'_j log p_j;  gradient[r, j] = gradientScale · (p_j − t'_j)
private func smoothedCrossEntropy(logits: FloatView, targets: CrossEntropyTargets, rows: Int, cols: Int,
                                  probabilities: FloatView, losses: FloatView, gradient: FloatView?,
                                  gradientScale: Float, epsilon: Float) {
    let keep = 1 - epsilon, spread = epsilon / Float(cols)
    for r in 0..<rows {
        let z = logits.base + r * cols, p = probabilities.base + r * cols
        let (top, logTotal) = softmaxRow(z, into: p, cols: cols)
        // The row's target t_j, one-hot for a label.
        func target(_ j: Int) -> Float {
            switch targets {
            case .distributions(let t): t.base[r * cols + j]
            case .labels(let labels): Int(labels.base[r]) == j ? 1 : 0
            }
        }
        if case .labels(let labels) = targets {
            let label = Int(labels.base[r])
            precondition(label >= 0 && label < cols, "label \(label) outside 0..<\(cols)")
        }
        var loss: Float = 0
        for j in 0..<cols {
            let smoothed = keep * target(j) + spread                   // t' = (1 − ε)·t + ε/K
            loss -= smoothed * (z[j] - top - logTotal)                 // −t'·log p
            if let gradient { gradient.base[r * cols + j] = gradientScale * (p[j] - smoothed) }  // (p − t')·scale
        }
        losses.base[r] = loss
    }
}
