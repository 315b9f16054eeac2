// The 2×2 max pooling of a convolution's output with bias and ReLU, and its gradient, in Swift
// for any CPU: the portable half of the pooled path (ConvolutionPool.swift), which the AVX2/FMA
// kernels of Sources/CKernels/conv_pool_direct.c and conv_pool_sparse.c match (the same bits for
// the direct forward). Layouts and the argmax convention are in ConvolutionPool.swift.

/// 2×2 max pooling (with bias and ReLU) of a (OH, OW, F) image z into (OH/2, OW/2, F), one sample.
/// y and argmax as described above; with `relu`, y = max(0, ·) before the comparison.
@inline(__always)
func biasReluPool2x2(_ z: UnsafePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool, height: Int, width: Int,
                     filters f: Int, into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    let ph = height / 2, pw = width / 2, line = width * f
    for i in 0..<ph {
        for j in 0..<pw {
            let top = z + (2 * i * width + 2 * j) * f, out = (i * pw + j) * f
            let vectorEnd = f - f % 8
            for k in stride(from: 0, to: vectorEnd, by: 8) {
                let b = bias.map { UnsafeRawPointer($0 + k).loadUnaligned(as: SIMD8<Float>.self) } ?? .zero
                let v0 = biasRelu(top + k, b, relu), v1 = biasRelu(top + f + k, b, relu)
                let v2 = biasRelu(top + line + k, b, relu), v3 = biasRelu(top + line + f + k, b, relu)
                var best = v0, taken = SIMD8<Int32>(repeating: 0)
                keepLarger(&best, &taken, v1, 1)
                keepLarger(&best, &taken, v2, 2)
                keepLarger(&best, &taken, v3, 3)
                UnsafeMutableRawPointer(y + out + k).storeBytes(of: best, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(argmax + out + k).storeBytes(of: taken, as: SIMD8<Int32>.self)
            }
            var k = vectorEnd
            if k + 4 <= f {
                // 4 more channels (LeNet's 6 filters: one vector of 4, then two scalars).
                let b = bias.map { UnsafeRawPointer($0 + k).loadUnaligned(as: SIMD4<Float>.self) } ?? .zero
                @inline(__always) func value(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
                    let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) + b
                    return relu ? v.replacing(with: 0, where: v .< 0) : v
                }
                let v1 = value(top + f + k), v2 = value(top + line + k), v3 = value(top + line + f + k)
                var best = value(top + k), taken = SIMD4<Int32>(repeating: 0)
                var larger = v1 .> best
                best.replace(with: v1, where: larger)
                taken.replace(with: SIMD4(repeating: 1), where: larger)
                larger = v2 .> best
                best.replace(with: v2, where: larger)
                taken.replace(with: SIMD4(repeating: 2), where: larger)
                larger = v3 .> best
                best.replace(with: v3, where: larger)
                taken.replace(with: SIMD4(repeating: 3), where: larger)
                UnsafeMutableRawPointer(y + out + k).storeBytes(of: best, as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(argmax + out + k).storeBytes(of: taken, as: SIMD4<Int32>.self)
                k += 4
            }
            while k < f {
                let b = bias?[k] ?? 0
                let v0 = top[k] + b, v1 = top[f + k] + b, v2 = top[line + k] + b, v3 = top[line + f + k] + b
                let r0 = relu && v0 < 0 ? 0 : v0, r1 = relu && v1 < 0 ? 0 : v1
                let r2 = relu && v2 < 0 ? 0 : v2, r3 = relu && v3 < 0 ? 0 : v3
                var best = r0, taken: Int32 = 0
                if r1 > best { best = r1; taken = 1 }
                if r2 > best { best = r2; taken = 2 }
                if r3 > best { best = r3; taken = 3 }
                y[out + k] = best
                argmax[out + k] = taken
                k += 1
            }
        }
    }
}

/// f(z + b) for 8 channels at p (f = ReLU or the identity).
@inline(__always)
private func biasRelu(_ p: UnsafePointer<Float>, _ b: SIMD8<Float>, _ relu: Bool) -> SIMD8<Float> {
    let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) + b
    return relu ? v.replacing(with: 0, where: v .< 0) : v                 // as Activation.relu
}

/// The adjoint of `biasReluPool2x2` for one sample: dz (OH, OW, F) = dy routed to each window's
/// argmax (where y > 0 with `relu`), zero elsewhere; sums[j] += Σ dz[·, j] in window order.
@inline(__always)
func pool2x2Gradient(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, relu: Bool,
                     height: Int, width: Int, filters f: Int, into dz: UnsafeMutablePointer<Float>,
                     sums: UnsafeMutablePointer<Float>) {
    let ph = height / 2, pw = width / 2, line = width * f
    // Rows and columns no window covers get no gradient.
    if pw * 2 < width {
        for r in 0..<ph * 2 { (dz + r * line + pw * 2 * f).update(repeating: 0, count: f) }
    }
    if ph * 2 < height { (dz + ph * 2 * line).update(repeating: 0, count: line) }
    for i in 0..<ph {
        for j in 0..<pw {
            let top = dz + (2 * i * width + 2 * j) * f, at = (i * pw + j) * f
            let vectorEnd = f - f % 8
            for k in stride(from: 0, to: vectorEnd, by: 8) {
                let raw = UnsafeRawPointer(dy + at + k).loadUnaligned(as: SIMD8<Float>.self)
                let v = UnsafeRawPointer(y + at + k).loadUnaligned(as: SIMD8<Float>.self)
                let g = relu ? raw.replacing(with: 0, where: .!(v .> 0)) : raw     // as Activation.relu: NaN → 0
                let taken = UnsafeRawPointer(argmax + at + k).loadUnaligned(as: SIMD8<Int32>.self)
                let zero = SIMD8<Float>(repeating: 0)
                UnsafeMutableRawPointer(top + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 0)),
                                                            as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(top + f + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 1)),
                                                                as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(top + line + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 2)),
                                                                   as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(top + line + f + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 3)),
                                                                       as: SIMD8<Float>.self)
                let s = UnsafeMutableRawPointer(sums + k)
                s.storeBytes(of: s.loadUnaligned(as: SIMD8<Float>.self) + g, as: SIMD8<Float>.self)
            }
            var k = vectorEnd
            if k + 4 <= f {
                let raw = UnsafeRawPointer(dy + at + k).loadUnaligned(as: SIMD4<Float>.self)
                let v = UnsafeRawPointer(y + at + k).loadUnaligned(as: SIMD4<Float>.self)
                let g = relu ? raw.replacing(with: 0, where: .!(v .> 0)) : raw
                let taken = UnsafeRawPointer(argmax + at + k).loadUnaligned(as: SIMD4<Int32>.self)
                let zero = SIMD4<Float>(repeating: 0)
                UnsafeMutableRawPointer(top + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD4<Int32>(repeating: 0)),
                                                            as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(top + f + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD4<Int32>(repeating: 1)),
                                                                as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(top + line + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD4<Int32>(repeating: 2)),
                                                                   as: SIMD4<Float>.self)
                UnsafeMutableRawPointer(top + line + f + k).storeBytes(of: zero.replacing(with: g, where: taken .== SIMD4<Int32>(repeating: 3)),
                                                                       as: SIMD4<Float>.self)
                let s = UnsafeMutableRawPointer(sums + k)
                s.storeBytes(of: s.loadUnaligned(as: SIMD4<Float>.self) + g, as: SIMD4<Float>.self)
                k += 4
            }
            while k < f {
                let g = relu && !(y[at + k] > 0) ? 0 : dy[at + k]
                let q = argmax[at + k]
                top[k] = q == 0 ? g : 0; top[f + k] = q == 1 ? g : 0
                top[line + k] = q == 2 ? g : 0; top[line + f + k] = q == 3 ? g : 0
                sums[k] += g
                k += 1
            }
        }
    }
}

/// One step of a max-pooling scan: where v > best (strict, so ties keep the earlier element),
/// best = v and taken = q.
@inline(__always)
func keepLarger(_ best: inout SIMD8<Float>, _ taken: inout SIMD8<Int32>, _ v: SIMD8<Float>, _ q: Int32) {
    let larger = v .> best
    best.replace(with: v, where: larger)
    taken.replace(with: SIMD8(repeating: q), where: larger)
}
