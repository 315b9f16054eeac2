// Parameter updates over flat parameter/gradient arrays, one rule per optimizer, written the way
// Keras 3 writes them so that the same hyper-parameters mean the same thing. Elements are
// independent, so the fixed chunks of `forEachChunk` may run on any thread.
//
// Weight decay is Keras 3's `Optimizer.apply_weight_decay`: decoupled from the gradient (AdamW's
// rule), w ← w − lr·λ·w applied before the optimizer's own step, with the step's (scheduled) rate.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SGD, optionally with (Nesterov) momentum and decoupled weight decay λ. `velocity` is required
/// when momentum > 0.
public func sgdUpdate(parameters w: FloatView, gradients g: FloatView, velocity: FloatView?,
                      learningRate lr: Float, momentum: Float, nesterov: Bool, weightDecay: Float = 0,
                      pool: ThreadPool?) {
    precondition(w.count == g.count)
    let wp = w.base, gp = g.base
    let decay = lr * weightDecay
    if momentum == 0 {
        forEachChunk(w.count, pool: pool) { range in
            if decay != 0 { decayChunk(wp, range, decay) }
            for i in range { wp[i] -= lr * gp[i] }                    // w ← w − lr·g
        }
        return
    }
    let vp = velocity!.base
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        for i in range {
            vp[i] = momentum * vp[i] - lr * gp[i]                      // v ← μ·v − lr·g
            if nesterov {
                wp[i] += momentum * vp[i] - lr * gp[i]                 // w ← w + μ·v − lr·g
            } else {
                wp[i] += vp[i]                                         // w ← w + v
            }
        }
    }
}

/// RMSprop (Keras: rho 0.9, epsilon 1e-7, optional momentum and centering), with decoupled weight
/// decay λ. `meanGradient` is required when centered, `velocity` when momentum > 0.
public func rmspropUpdate(parameters w: FloatView, gradients g: FloatView, meanSquare: FloatView,
                          meanGradient: FloatView?, velocity: FloatView?, learningRate lr: Float,
                          rho: Float, momentum: Float, epsilon: Float, weightDecay: Float = 0,
                          pool: ThreadPool?) {
    precondition(w.count == g.count && meanSquare.count == w.count)
    let wp = w.base, gp = g.base, sp = meanSquare.base
    let mgp = meanGradient?.base, vp = velocity?.base
    let decay = lr * weightDecay
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        for i in range {
            sp[i] = rho * sp[i] + (1 - rho) * gp[i] * gp[i]            // s ← ρ·s + (1−ρ)·g²
            var denominator = sp[i]
            if let mgp {
                mgp[i] = rho * mgp[i] + (1 - rho) * gp[i]              // ḡ ← ρ·ḡ + (1−ρ)·g
                denominator -= mgp[i] * mgp[i]                         // s − ḡ²   (centered)
            }
            let increment = lr * gp[i] / (denominator + epsilon).squareRoot()  // lr·g/√(s+ε)
            if let vp {
                vp[i] = momentum * vp[i] + increment                   // v ← μ·v + increment
                wp[i] -= vp[i]
            } else {
                wp[i] -= increment
            }
        }
    }
}

/// Adam (Kingma & Ba), with Keras's ε placement; AdamW when `weightDecay` > 0 (decoupled: the
/// decay is applied to w before the Adam step, as Keras does). `step` counts from 1.
public func adamUpdate(parameters w: FloatView, gradients g: FloatView, firstMoment m: FloatView,
                       secondMoment v: FloatView, learningRate lr: Float, beta1: Float, beta2: Float,
                       epsilon: Float, step: Int, weightDecay: Float, pool: ThreadPool?) {
    precondition(w.count == g.count && m.count == w.count && v.count == w.count && step >= 1)
    // α = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ), computed in Double once per step.
    let t = Double(step)
    let alpha = Float(Double(lr) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
    let decay = lr * weightDecay
    let a = 1 - beta1, b = 1 - beta2
    let wp = w.base, gp = g.base, mp = m.base, vp = v.base
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        adamChunk(wp, gp, mp, vp, range, a, b, alpha, epsilon)
    }
}

/// The Adam step on one chunk, a separate function so the loop is vectorised on its own.
@inline(never)
private func adamChunk(_ wp: UnsafeMutablePointer<Float>, _ gp: UnsafeMutablePointer<Float>,
                       _ mp: UnsafeMutablePointer<Float>, _ vp: UnsafeMutablePointer<Float>,
                       _ range: Range<Int>, _ a: Float, _ b: Float, _ alpha: Float, _ epsilon: Float) {
    for i in range {
        let g = gp[i]
        let m = mp[i] + (g - mp[i]) * a                                // m ← β₁·m + (1−β₁)·g
        let v = vp[i] + (g * g - vp[i]) * b                            // v ← β₂·v + (1−β₂)·g²
        mp[i] = m
        vp[i] = v
        wp[i] -= m * alpha / (v.squareRoot() + epsilon)                // w ← w − α·m/(√v+ε)
    }
}

/// w ← w − lr·λ·w on one chunk (`decay` = lr·λ): Keras 3's `apply_weight_decay`.
@inline(__always)
private func decayChunk(_ wp: UnsafeMutablePointer<Float>, _ range: Range<Int>, _ decay: Float) {
    for i in range { wp[i] -= wp[i] * decay }                          // w ← w − lr·λ·w
}
