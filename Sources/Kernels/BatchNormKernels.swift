// Batch-normalization kernels. x is (M, C) row-major: M = N·H·W positions (or N samples), C
// channels, the last axis (channels last, as Keras). Every statistic is per channel, over M.
//
// Determinism: a per-channel sum over the M rows is taken in Double, in row order, over each of a
// fixed number of row blocks (`statisticBlocks`: from M alone), and the blocks' sums are added in
// block order. A channel's sum is therefore the same whatever thread computes which block and
// however many threads there are. (A chunk of the reduction is a row block and a group of
// channels; the grouping only decides which sums one pass over the rows computes.) The elementwise
// passes are split by rows; no element depends on another there, so any split is exact.
//
// A ReLU after the normalization may run inside it (`relu`: the layer fused with the activation
// layer after it): y = max(0, ·) as it is stored, and backward reads dy only where y > 0 — the bits
// of a separate activation layer, one pass over memory less each way. On CPUs with AVX-512 the
// loops run in Sources/CKernels/batch_norm.c, the same operations 16 channels a vector.
import CKernels

/// Channels per reduction chunk: one SIMD16 lane per channel; the AVX-512 kernels take up to 4
/// such blocks in one pass over the rows (64 channels: four whole cache lines of each row).
private let channelBlock = 16
private let wideChannelBlock = 64

/// The row blocks of a per-channel sum over m rows: `count` blocks of `step` rows (the last
/// shorter), at most `maximumStatisticBlocks`, none under 256 rows. From m alone, so every
/// thread count adds the same blocks in the same order.
public func statisticBlocks(rows m: Int) -> (step: Int, count: Int) {
    let count = max(1, min(maximumStatisticBlocks, m / 256))
    let step = (m + count - 1) / count
    return (step, (m + step - 1) / step)
}
public let maximumStatisticBlocks = 16

/// Below this many elements a pass runs on the calling thread (waking the pool costs more).
private let parallelElements = 32_768

/// The per-channel vectors a batch-norm layer keeps from its forward pass for its backward pass,
/// in `BatchNormScratch.count(channels:)` Floats of the layer's scratch.
public struct BatchNormScratch: Sendable {
    public static func count(channels: Int) -> Int { 6 * channels + 4 * maximumStatisticBlocks * channels + 1 }

    /// μ and s = 1/√(σ² + ε) the last forward pass normalised with (batch or moving statistics).
    let mean: FloatView, inverseStd: FloatView
    /// k = γ·s and β (0 without β): y = (x − μ)·k + β.
    let scale: FloatView, offset: FloatView
    /// Backward: Σ_m dy / M and Σ_m dy·x̂ / M.
    let meanDy: FloatView, meanDyXhat: FloatView
    /// Room for each row block's two per-channel sums: 2 · maximumStatisticBlocks · C Doubles.
    let partialSums: FloatView
    var partials: UnsafeMutablePointer<Double> {
        // Floats are 4-byte aligned: one Float of slack puts the Doubles on an 8-byte boundary.
        UnsafeMutableRawPointer(partialSums.base).alignedUp(for: Double.self).assumingMemoryBound(to: Double.self)
    }

    public init(_ view: FloatView, channels c: Int) {
        precondition(view.count >= Self.count(channels: c))
        mean = view.slice(0, c)
        inverseStd = view.slice(c, c)
        scale = view.slice(2 * c, c)
        offset = view.slice(3 * c, c)
        meanDy = view.slice(4 * c, c)
        meanDyXhat = view.slice(5 * c, c)
        partialSums = view.slice(6 * c, 4 * maximumStatisticBlocks * c + 1)
    }
}

/// The 2×2 max pooling (stride 2, valid) after a batch normalization and its ReLU, computed inside
/// it (AVX-512 only): the layer's rows are images of height × width positions, y and dy are the
/// pooled (N, height/2, width/2, C), and `argmax` (as many Int32s) says which element of each
/// window was taken (0…3 in scan order). The same bits as the three layers apart: the same
/// values, the same choices of maximum, and the backward's dy is max pooling's.
public struct BatchNormPooling: Sendable {
    public let height: Int, width: Int
    let argmax: FloatView

    public init(height: Int, width: Int, argmax: FloatView) {
        self.height = height
        self.width = width
        self.argmax = argmax
    }

    var argmaxPointer: UnsafeMutablePointer<Int32> {
        UnsafeMutableRawPointer(argmax.base).assumingMemoryBound(to: Int32.self)
    }
}

/// Two per-channel sums over the m rows in Double, by `statisticBlocks`: body(rows, c0, w, first,
/// second) writes the two sums of channels c0 ..< c0 + w over those rows to first[0 ..< w] and
/// second[0 ..< w]; the blocks' sums are then added in block order into totals(channel, first, second).
@inline(__always)
private func blockedSums(rows m: Int, channels c: Int, partials: UnsafeMutablePointer<Double>, pool: ThreadPool?,
                         code: VectorCode,
                         _ body: (_ rows: Range<Int>, _ c0: Int, _ w: Int, UnsafeMutablePointer<Double>,
                                  UnsafeMutablePointer<Double>) -> Void,
                         totals: (_ channel: Int, Double, Double) -> Void) {
    let (step, blocks) = statisticBlocks(rows: m)
    let width = code == .avx512 ? wideChannelBlock : channelBlock
    let groups = (c + width - 1) / width
    let second = partials + blocks * c
    forEach(blocks * groups, pool: m * c >= parallelElements ? pool : nil) { chunk in
        let block = chunk / groups, c0 = chunk % groups * width
        let rows = (block * step)..<min(m, (block + 1) * step)
        body(rows, c0, min(width, c - c0), partials + block * c + c0, second + block * c + c0)
    }
    for ch in 0..<c {
        var a = partials[ch], b = second[ch]
        for block in 1..<blocks {
            a += partials[block * c + ch]
            b += second[block * c + ch]
        }
        totals(ch, a, b)
    }
}

/// body(rows) for blocks of about 4,096 elements (whole rows), on the pool when worth it.
@inline(__always)
private func forEachRowBlock(rows: Int, channels: Int, pool: ThreadPool?, _ body: (Range<Int>) -> Void) {
    let step = max(1, 4_096 / channels)
    let blocks = (rows + step - 1) / step
    forEach(blocks, pool: rows * channels >= parallelElements ? pool : nil) { block in
        let start = block * step
        body(start..<min(rows, start + step))
    }
}

/// The `width` Floats at p as the first lanes of a vector (the rest 0).
@inline(__always)
private func lanes(_ p: UnsafeMutablePointer<Float>, _ width: Int) -> SIMD16<Float> {
    if width == channelBlock { return UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
    var v = SIMD16<Float>()
    for j in 0..<width { v[j] = p[j] }
    return v
}

/// Training-mode forward pass, with the batch's own statistics, per channel c:
///
///     μ_c  = Σ_m x[m, c] / M
///     σ²_c = Σ_m (x[m, c] − μ_c)² / M                   (biased, as Keras 3's `ops.moments`)
///     y[m, c] = γ_c · (x[m, c] − μ_c) / √(σ²_c + ε) + β_c
///     movingMean[c]     = momentum · movingMean[c]     + (1 − momentum) · μ_c
///     movingVariance[c] = momentum · movingVariance[c] + (1 − momentum) · σ²_c
///
/// γ = 1 when `gamma` is nil, β = 0 when `beta` is nil. One pass over x for the statistics: sums
/// of x − K and (x − K)² in Double, K the channel's first value, so σ² = (Σ(x − K)² −
/// (Σ(x − K))²/M)/M. A plain E[x²] − E[x]² cancels badly when |μ| ≫ σ; the shift takes μ's
/// magnitude out first, and Double keeps a 86,528-row sum (a batch of 128 through 26×26 feature
/// maps) far more exact than Float could. (Two passes — the mean, then squared deviations from
/// it — read x once more: cnn-best.yaml's first layer's forward took 1.96–2.33 ms with them,
/// 1.71–1.78 with one, layer-bench medians.) `scratch` keeps μ and
/// 1/√(σ² + ε) for the backward pass.
public func batchNormTrainingForward(x: FloatView, y: FloatView, rows m: Int, channels c: Int,
                                     epsilon: Float, momentum: Float, gamma: FloatView?, beta: FloatView?,
                                     movingMean: FloatView, movingVariance: FloatView,
                                     scratch: BatchNormScratch, relu: Bool = false, pooling: BatchNormPooling? = nil,
                                     writesOutput: Bool = true, pool: ThreadPool? = nil, code: VectorCode = .best) {
    precondition(m > 0 && c > 0 && x.count >= m * c && y.count >= m * c)
    precondition(movingMean.count >= c && movingVariance.count >= c)
    let xp = x.base, meanp = scratch.mean.base, invp = scratch.inverseStd.base
    let mmp = movingMean.base, mvp = movingVariance.base
    // One pass: sums of x − K and of its square for a shift K, the channel's first value.
    // Σ(x − μ)² = Σ(x − K)² − (Σ(x − K))²/M exactly; in Double, with K a value of the channel
    // (rarely many σ from μ), what the subtraction cancels is far below a Float's precision.
    blockedSums(rows: m, channels: c, partials: scratch.partials, pool: pool, code: code) { rows, c0, w, sums, squares in
        if code == .avx512 {
            ck_bn_moments(xp, rows.lowerBound, rows.count, Int32(c), Int32(c0), Int32(w), xp, sums, squares)
            return
        }
        let shift = SIMD16<Double>(lanes(xp + c0, w))
        var sum = SIMD16<Double>(), square = SIMD16<Double>()
        for r in rows {
            let d = SIMD16<Double>(lanes(xp + r * c + c0, w)) - shift
            sum += d
            square += d * d
        }
        for j in 0..<w {
            sums[j] = sum[j]
            squares[j] = square[j]
        }
    } totals: { ch, sum, squares in
        let count = Double(m), shift = Double(xp[ch])
        let mu = shift + sum / count
        let deviations = squares - sum * sum / count        // Σ(x − μ)², ≥ 0 but for rounding
        let variance = (deviations < 0 ? 0 : deviations) / count
        meanp[ch] = Float(mu)
        invp[ch] = Float(1 / (variance + Double(epsilon)).squareRoot())
        mmp[ch] = momentum * mmp[ch] + (1 - momentum) * Float(mu)
        mvp[ch] = momentum * mvp[ch] + (1 - momentum) * Float(variance)
    }
    normalize(x: x, y: y, rows: m, channels: c, gamma: gamma, beta: beta, scratch: scratch, relu: relu,
              pooling: pooling, writesOutput: writesOutput, pool: pool, code: code)
}

/// Inference-mode forward pass, with the moving statistics (which it does not change):
/// y[m, c] = γ_c · (x[m, c] − movingMean[c]) / √(movingVariance[c] + ε) + β_c.
public func batchNormInferenceForward(x: FloatView, y: FloatView, rows m: Int, channels c: Int,
                                      epsilon: Float, gamma: FloatView?, beta: FloatView?,
                                      movingMean: FloatView, movingVariance: FloatView,
                                      scratch: BatchNormScratch, relu: Bool = false,
                                      pooling: BatchNormPooling? = nil, writesOutput: Bool = true,
                                      pool: ThreadPool? = nil, code: VectorCode = .best) {
    precondition(m > 0 && c > 0 && x.count >= m * c && y.count >= m * c)
    precondition(movingMean.count >= c && movingVariance.count >= c)
    for ch in 0..<c {
        scratch.mean.base[ch] = movingMean.base[ch]
        scratch.inverseStd.base[ch] = Float(1 / (Double(movingVariance.base[ch]) + Double(epsilon)).squareRoot())
    }
    normalize(x: x, y: y, rows: m, channels: c, gamma: gamma, beta: beta, scratch: scratch, relu: relu,
              pooling: pooling, writesOutput: writesOutput, pool: pool, code: code)
}

/// y = (x − μ)·k + β with k = γ·s, from the μ and s in `scratch`; then max(0, y) with `relu`, and
/// with `pooling` its 2×2 max pooling. Without `writesOutput`, only k and β are put in `scratch`,
/// for the layer after to apply (`InputNormalization`).
private func normalize(x: FloatView, y: FloatView, rows m: Int, channels c: Int, gamma: FloatView?,
                       beta: FloatView?, scratch: BatchNormScratch, relu: Bool, pooling: BatchNormPooling?,
                       writesOutput: Bool, pool: ThreadPool?, code: VectorCode) {
    precondition((gamma?.count ?? c) >= c && (beta?.count ?? c) >= c)
    let meanp = scratch.mean.base, invp = scratch.inverseStd.base
    let kp = scratch.scale.base, bp = scratch.offset.base
    for ch in 0..<c {
        kp[ch] = (gamma?.base[ch] ?? 1) * invp[ch]
        bp[ch] = beta?.base[ch] ?? 0
    }
    guard writesOutput else {
        precondition(code == .avx512 && pooling == nil, "a layer after applies only the AVX-512 pass, unpooled")
        return
    }
    let xp = x.base, yp = y.base
    if let pooling {
        precondition(code == .avx512 && relu, "the pooling runs inside only with AVX-512 and the ReLU")
        let h = pooling.height, w = pooling.width, perImage = h * w, images = m / perImage
        let pooled = (h / 2) * (w / 2) * c, ap = pooling.argmaxPointer
        precondition(images * perImage == m && pooling.argmax.count >= images * pooled)
        forEach(images, pool: m * c >= parallelElements ? pool : nil) { n in
            ck_bn_normalize_pool(xp + n * perImage * c, yp + n * pooled, ap + n * pooled, 1, Int32(h), Int32(w),
                                 Int32(c), meanp, kp, bp)
        }
        return
    }
    forEachRowBlock(rows: m, channels: c, pool: pool) { rows in
        if code == .avx512 {
            let at = rows.lowerBound * c
            ck_bn_normalize(xp + at, yp + at, rows.count, Int32(c), meanp, kp, bp, relu ? 1 : 0)
            return
        }
        for r in rows {
            let xr = xp + r * c, yr = yp + r * c
            for ch in 0..<c { yr[ch] = (xr[ch] - meanp[ch]) * kp[ch] + bp[ch] }
        }
        if relu { Activation.relu.forward(y.slice(rows.lowerBound * c, rows.count * c), rows: rows.count, cols: c) }
    }
}

/// Backward pass of either forward pass, with x̂ = (x − μ)·s and k = γ·s as it normalised:
///
///     dγ_c += Σ_m dy[m, c] · x̂[m, c]          dβ_c += Σ_m dy[m, c]
///     batch statistics (training):   dx = k_c · (dy − Σ_m dy / M − x̂ · Σ_m dy·x̂ / M)
///     moving statistics (inference): dx = k_c · dy
///
/// (With batch statistics every output of a channel depends on every input of it through μ and
/// σ²; the two subtracted means are that dependence.) The sums are taken in Double, per channel in
/// row order. Gradients that are nil are not computed. With `relu` (the forward stored max(0, ·)
/// in y), dy is taken where y > 0 only — in place, dy being the layer's to overwrite; the AVX-512
/// kernels leave dy as it is and find where y > 0 by normalizing x again, without reading y.
public func batchNormBackward(x: FloatView, dy: FloatView, dx: FloatView?, rows m: Int, channels c: Int,
                              gamma: FloatView?, gammaGradient: FloatView?, betaGradient: FloatView?,
                              batchStatistics: Bool, scratch: BatchNormScratch, relu y: FloatView? = nil,
                              pooling: BatchNormPooling? = nil, pool: ThreadPool? = nil, code: VectorCode = .best) {
    precondition(m > 0 && c > 0 && x.count >= m * c && dy.count >= m * c && (dx?.count ?? m * c) >= m * c)
    precondition((gamma?.count ?? c) >= c && (gammaGradient?.count ?? c) >= c && (betaGradient?.count ?? c) >= c)
    let xp = x.base, dyp = dy.base
    let meanp = scratch.mean.base, invp = scratch.inverseStd.base, kp = scratch.scale.base
    let bp = scratch.offset.base                            // β as the forward normalised with
    let adp = scratch.meanDy.base, axp = scratch.meanDyXhat.base
    let dgp = gammaGradient?.base, dbp = betaGradient?.base
    for ch in 0..<c { kp[ch] = (gamma?.base[ch] ?? 1) * invp[ch] }
    let relu = y != nil
    precondition(pooling == nil || (code == .avx512 && relu), "the pooling runs inside only with AVX-512 and the ReLU")
    let ap = pooling?.argmaxPointer, ph = Int32(pooling?.height ?? 0), pw = Int32(pooling?.width ?? 0)
    if relu && code != .avx512 {
        forEachRowBlock(rows: m, channels: c, pool: pool) { rows in
            let at = rows.lowerBound * c
            Activation.relu.backward(y: y!.slice(at, rows.count * c), dy: dy.slice(at, rows.count * c),
                                     rows: rows.count, cols: c)
        }
    }
    blockedSums(rows: m, channels: c, partials: scratch.partials, pool: pool, code: code) { rows, c0, w, dys, xhats in
        if let ap {
            ck_bn_backward_sums_pool(xp, dyp, ap, rows.lowerBound, rows.count, ph, pw, Int32(c), Int32(c0), Int32(w),
                                     meanp, invp, kp, bp, dys, xhats)
            return
        }
        if code == .avx512 {
            ck_bn_backward_sums(xp, dyp, rows.lowerBound, rows.count, Int32(c), Int32(c0), Int32(w), meanp, invp,
                                kp, bp, relu ? 1 : 0, dys, xhats)
            return
        }
        let mu = lanes(meanp + c0, w), s = lanes(invp + c0, w)
        var sumDy = SIMD16<Double>(), sumDyXhat = SIMD16<Double>()
        for r in rows {
            let xhat = (lanes(xp + r * c + c0, w) - mu) * s
            let g = SIMD16<Double>(lanes(dyp + r * c + c0, w))
            sumDy += g
            sumDyXhat += g * SIMD16<Double>(xhat)
        }
        for j in 0..<w {
            dys[j] = sumDy[j]
            xhats[j] = sumDyXhat[j]
        }
    } totals: { ch, sumDy, sumDyXhat in
        dgp?[ch] += Float(sumDyXhat)
        dbp?[ch] += Float(sumDy)
        adp[ch] = Float(sumDy / Double(m))
        axp[ch] = Float(sumDyXhat / Double(m))
    }
    guard let dxp = dx?.base else { return }
    forEachRowBlock(rows: m, channels: c, pool: pool) { rows in
        if let ap {
            ck_bn_input_gradient_pool(xp, dyp, ap, dxp, rows.lowerBound, rows.count, ph, pw, Int32(c), meanp, invp, kp,
                                      bp, adp, axp, batchStatistics ? 1 : 0)
            return
        }
        if code == .avx512 {
            let at = rows.lowerBound * c
            ck_bn_input_gradient(xp + at, dyp + at, dxp + at, rows.count, Int32(c), meanp, invp, kp, bp, adp, axp,
                                 batchStatistics ? 1 : 0, relu ? 1 : 0)
            return
        }
        for r in rows {
            let xr = xp + r * c, dyr = dyp + r * c, dxr = dxp + r * c
            if batchStatistics {
                for ch in 0..<c {
                    let xhat = (xr[ch] - meanp[ch]) * invp[ch]
                    dxr[ch] = kp[ch] * (dyr[ch] - adp[ch] - xhat * axp[ch])
                }
            } else {
                for ch in 0..<c { dxr[ch] = kp[ch] * dyr[ch] }
            }
        }
    }
}

/// A batch normalization's input gradient as a layer before it can compute it, where it reads
/// it, instead of reading it from memory: `ck_bn_gradient_rows` gives the values
/// `batchNormBackward` writes to dx. Valid after `batchNormBackward` of the same batch (run with dx
/// nil: its sums are in `scratch`) while x, dy and `scratch` are unchanged. AVX-512 only.
public struct BatchNormGradient {
    public let source: ck_bn_gradient

    public init(x: FloatView, dy: FloatView, channels c: Int, batchStatistics: Bool, scratch: BatchNormScratch,
                relu: Bool, pooling: BatchNormPooling?) {
        precondition(VectorCode.best == .avx512, "the AVX-512 passes compute it")
        precondition(pooling == nil || relu, "the pooling runs inside only with the ReLU")
        source = ck_bn_gradient(
            x: x.base, dy: dy.base, argmax: pooling.map { UnsafePointer($0.argmaxPointer) },
            height: Int32(pooling?.height ?? 0), width: Int32(pooling?.width ?? 0), channels: Int32(c),
            relu: relu ? 1 : 0, batchStatistics: batchStatistics ? 1 : 0, mean: scratch.mean.base,
            inverseStd: scratch.inverseStd.base, scale: scratch.scale.base, offset: scratch.offset.base,
            meanDy: scratch.meanDy.base, meanDyXhat: scratch.meanDyXhat.base)
    }
}

/// A batch normalization (and the ReLU fused with it) that the layer after applies to its input
/// as it reads it, a block of rows at a time into its own scratch, instead of the normalization
/// writing its whole output to memory for that layer to read back (`BatchNormalization`'s
/// `fuse(outputInto:)`): μ, k = γ·s and β as the normalization's forward left them in its
/// scratch, and the pass is the normalization's own (`ck_bn_normalize`), so the values are the
/// same bits. AVX-512 only.
public struct InputNormalization: @unchecked Sendable {
    let mean: UnsafePointer<Float>, scale: UnsafePointer<Float>, offset: UnsafePointer<Float>
    public let channels: Int
    public let relu: Bool

    public init(scratch: BatchNormScratch, channels c: Int, relu: Bool) {
        precondition(VectorCode.best == .avx512, "the AVX-512 pass applies it")
        mean = UnsafePointer(scratch.mean.base)
        scale = UnsafePointer(scratch.scale.base)
        offset = UnsafePointer(scratch.offset.base)
        channels = c
        self.relu = relu
    }

    /// y = (x − μ)·k + β (then max(0, ·) with `relu`) for `rows` rows of `channels` floats.
    public func apply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int) {
        ck_bn_normalize(x, y, rows, Int32(channels), mean, scale, offset, relu ? 1 : 0)
    }
}
