// Parameter updates over flat parameter/gradient arrays, one rule per optimizer, written the way
// Keras 3 writes them so that the same hyper-parameters mean the same thing. Elements are
// independent, so the fixed chunks of `forEachChunk` may run on any thread.
//
// Weight decay is Keras 3's `Optimizer.apply_weight_decay`: decoupled from the gradient (AdamW's
// rule), w ← w − lr·λ·w applied before the optimizer's own step, with the step's (scheduled) rate.
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SGD, optionally with (Nesterov) momentum and decoupled weight decay λ. `velocity` is required
/// when momentum > 0. With `code` .avx512 the momentum step runs in sgd.c (the same bits).
public func sgdUpdate(parameters w: FloatView, gradients g: FloatView, velocity: FloatView?,
                      learningRate lr: Float, momentum: Float, nesterov: Bool, weightDecay: Float = 0,
                      pool: ThreadPool?, code: VectorCode = .best) {
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
        if code == .avx512 {                                                // the same steps, in sgd.c
            let i = range.lowerBound
            ck_sgd_momentum(range.count, wp + i, gp + i, vp + i, lr, momentum, nesterov ? 1 : 0)
            return
        }
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
                          pool: ThreadPool?, code: VectorCode = .best) {
    precondition(w.count == g.count && meanSquare.count == w.count)
    let wp = w.base, gp = g.base, sp = meanSquare.base
    let mgp = meanGradient?.base, vp = velocity?.base
    let decay = lr * weightDecay
    let vector = code == .avx512 && mgp == nil && vp == nil   // the plain rule, in rmsprop_adadelta.c
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        if vector {
            let i = range.lowerBound
            ck_rmsprop(range.count, wp + i, gp + i, sp + i, lr, rho, epsilon)
            return
        }
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
                       epsilon: Float, step: Int, weightDecay: Float, pool: ThreadPool?,
                       code: VectorCode = .best) {
    precondition(w.count == g.count && m.count == w.count && v.count == w.count && step >= 1)
    // α = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ), computed in Double once per step.
    let t = Double(step)
    let alpha = Float(Double(lr) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
    let decay = lr * weightDecay
    let a = 1 - beta1, b = 1 - beta2
    let wp = w.base, gp = g.base, mp = m.base, vp = v.base
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        adamChunk(wp, gp, mp, vp, range, a, b, alpha, epsilon, code)
    }
}

/// The Adam step on one chunk, a separate function so the loop is vectorised on its own; on CPUs
/// with AVX2 (or AVX-512) the same operations 8 (16) at a time in Sources/CKernels/adam.c.
@inline(never)
private func adamChunk(_ wp: UnsafeMutablePointer<Float>, _ gp: UnsafeMutablePointer<Float>,
                       _ mp: UnsafeMutablePointer<Float>, _ vp: UnsafeMutablePointer<Float>,
                       _ range: Range<Int>, _ a: Float, _ b: Float, _ alpha: Float, _ epsilon: Float,
                       _ code: VectorCode) {
    if code != .portable {
        let i = range.lowerBound
        ck_adam(range.count, wp + i, gp + i, mp + i, vp + i, a, b, alpha, epsilon, code.wide)
        return
    }
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

/// Adadelta (Zeiler 2012) as Keras 3 writes it — PyTorch's rule is the same; Keras multiplies the
/// step by `lr` (default 0.001), PyTorch by its lr (default 1.0, Zeiler's form):
///   E[g²] ← ρ·E[g²] + (1−ρ)·g²;  Δ = √(E[Δ²]+ε)·g / √(E[g²]+ε);  E[Δ²] ← ρ·E[Δ²] + (1−ρ)·Δ²;  w ← w − lr·Δ
/// with decoupled weight decay λ before the step. Both accumulators start at 0.
public func adadeltaUpdate(parameters w: FloatView, gradients g: FloatView, accumulatedGradient: FloatView,
                           accumulatedDelta: FloatView, learningRate lr: Float, rho: Float, epsilon: Float,
                           weightDecay: Float, pool: ThreadPool?, code: VectorCode = .best) {
    precondition(w.count == g.count && accumulatedGradient.count == w.count && accumulatedDelta.count == w.count)
    let wp = w.base, gp = g.base, ap = accumulatedGradient.base, dp = accumulatedDelta.base
    let decay = lr * weightDecay
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        if code == .avx512 {                                           // rmsprop_adadelta.c
            let i = range.lowerBound
            ck_adadelta(range.count, wp + i, gp + i, ap + i, dp + i, lr, rho, epsilon)
            return
        }
        for i in range {
            let g = gp[i]
            ap[i] = rho * ap[i] + (1 - rho) * g * g                    // E[g²] ← ρ·E[g²] + (1−ρ)·g²
            let delta = (dp[i] + epsilon).squareRoot() * g / (ap[i] + epsilon).squareRoot()  // Δ = √(E[Δ²]+ε)·g/√(E[g²]+ε)
            dp[i] = rho * dp[i] + (1 - rho) * delta * delta            // E[Δ²] ← ρ·E[Δ²] + (1−ρ)·Δ²
            wp[i] -= lr * delta                                        // w ← w − lr·Δ
        }
    }
}

/// Adagrad (Duchi et al. 2011) as Keras 3 writes it, ε inside the root:
///   A ← A + g²;  w ← w − lr·g / √(A + ε)
/// with decoupled weight decay λ before the step. `accumulator` starts at initial_accumulator_value.
public func adagradUpdate(parameters w: FloatView, gradients g: FloatView, accumulator: FloatView,
                          learningRate lr: Float, epsilon: Float, weightDecay: Float, pool: ThreadPool?) {
    precondition(w.count == g.count && accumulator.count == w.count)
    let wp = w.base, gp = g.base, ap = accumulator.base
    let decay = lr * weightDecay
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        for i in range {
            ap[i] += gp[i] * gp[i]                                     // A ← A + g²
            wp[i] -= lr * gp[i] / (ap[i] + epsilon).squareRoot()       // w ← w − lr·g/√(A+ε)
        }
    }
}

/// Adamax (Kingma & Ba, §7.1) as Keras 3 writes it; `step` counts from 1:
///   m ← β₁·m + (1−β₁)·g;  u ← max(β₂·u, |g|);  w ← w − lr·m / ((1 − β₁ᵗ)·(u + ε))
/// with decoupled weight decay λ before the step.
public func adamaxUpdate(parameters w: FloatView, gradients g: FloatView, firstMoment m: FloatView,
                         infinityNorm u: FloatView, learningRate lr: Float, beta1: Float, beta2: Float,
                         epsilon: Float, step: Int, weightDecay: Float, pool: ThreadPool?) {
    precondition(w.count == g.count && m.count == w.count && u.count == w.count && step >= 1)
    // α = lr / (1 − β₁ᵗ), computed in Double once per step.
    let alpha = Float(Double(lr) / (1 - pow(Double(beta1), Double(step))))
    let decay = lr * weightDecay
    let a = 1 - beta1
    let wp = w.base, gp = g.base, mp = m.base, up = u.base
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        for i in range {
            let g = gp[i]
            mp[i] += (g - mp[i]) * a                                   // m ← β₁·m + (1−β₁)·g
            up[i] = max(beta2 * up[i], abs(g))                         // u ← max(β₂·u, |g|)
            wp[i] -= alpha * mp[i] / (up[i] + epsilon)                 // w ← w − α·m/(u+ε)
        }
    }
}

/// The per-step scalars of Nadam (Dozat 2016) as Keras 3 computes them, with the momentum schedule
/// μₜ = β₁·(1 − ½·0.96^(d·t)) (Keras 3: d = 1; PyTorch's NAdam and Keras 2: d = momentum_decay 0.004)
/// and Πₜ = μ₁·…·μₜ, the running product the optimizer keeps.
public struct NadamStep: Sendable, Equatable {
    /// μₜ₊₁ / (1 − Πₜ·μₜ₊₁): the weight of m in m̂.
    public let momentWeight: Float
    /// (1 − μₜ) / (1 − Πₜ): the weight of g in m̂.
    public let gradientWeight: Float
    /// 1 − β₂ᵗ: v̂ = v / (1 − β₂ᵗ).
    public let secondCorrection: Float

    /// - Parameter product: Πₜ₋₁ (1 before the first step); becomes Πₜ.
    public init(step: Int, beta1: Float, beta2: Float, momentumDecay: Float, product: inout Float) {
        precondition(step >= 1)
        let t = Double(step), b1 = Double(beta1), d = Double(momentumDecay)
        let mu = b1 * (1 - 0.5 * pow(0.96, d * t))                    // μₜ
        let next = b1 * (1 - 0.5 * pow(0.96, d * (t + 1)))            // μₜ₊₁
        product = Float(Double(product) * mu)                         // Πₜ = Πₜ₋₁·μₜ (kept in Float, as Keras does)
        let p = Double(product)
        momentWeight = Float(next / (1 - p * next))
        gradientWeight = Float((1 - mu) / (1 - p))
        secondCorrection = Float(1 - pow(Double(beta2), t))
    }
}

/// Nadam (Keras 3's rule), the step's scalars from `NadamStep`:
///   m ← β₁·m + (1−β₁)·g;  v ← β₂·v + (1−β₂)·g²
///   m̂ = μₜ₊₁·m/(1 − Πₜμₜ₊₁) + (1−μₜ)·g/(1 − Πₜ);  v̂ = v/(1 − β₂ᵗ);  w ← w − lr·m̂/(√v̂ + ε)
/// with decoupled weight decay λ before the step.
public func nadamUpdate(parameters w: FloatView, gradients g: FloatView, firstMoment m: FloatView,
                        secondMoment v: FloatView, learningRate lr: Float, beta1: Float, beta2: Float,
                        epsilon: Float, scalars: NadamStep, weightDecay: Float, pool: ThreadPool?) {
    precondition(w.count == g.count && m.count == w.count && v.count == w.count)
    let decay = lr * weightDecay
    let a = 1 - beta1, b = 1 - beta2
    let wp = w.base, gp = g.base, mp = m.base, vp = v.base
    forEachChunk(w.count, pool: pool) { range in
        if decay != 0 { decayChunk(wp, range, decay) }
        for i in range {
            let g = gp[i]
            mp[i] += (g - mp[i]) * a                                   // m ← β₁·m + (1−β₁)·g
            vp[i] += (g * g - vp[i]) * b                               // v ← β₂·v + (1−β₂)·g²
            let mHat = scalars.momentWeight * mp[i] + scalars.gradientWeight * g  // m̂
            let vHat = vp[i] / scalars.secondCorrection                // v̂ = v/(1−β₂ᵗ)
            wp[i] -= lr * mHat / (vHat.squareRoot() + epsilon)         // w ← w − lr·m̂/(√v̂+ε)
        }
    }
}
