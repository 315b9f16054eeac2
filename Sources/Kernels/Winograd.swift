// 3×3, stride-1 convolution by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, 2015):
// each 4×4 block of outputs is computed from a 6×6 block of inputs with 36 multiplications per
// (input channel, filter) instead of 144. Batched over tiles, the multiplications become 36
// independent matrix products, which go through single-threaded `cblas_sgemm` like every other
// product in the project.
//
//   forward   Y = Aᵀ [ U ⊙ V ] A,   U = G g Gᵀ (kernel),  V = Bᵀ d B (6×6 input tile)
//   backward  the exact adjoints of the same three linear maps:
//             dM = A dY Aᵀ;  dU = Σ_tiles V ⊙ dM → dg = Gᵀ dU G;  dV = U ⊙ dM → dd = B dV Bᵀ
//
// Layout: x (N, H, W, C) and y (N, OH, OW, F) channels last; kernel (3, 3, C, F) as Keras stores
// it. Transformed tensors are (T, 36, ·) with T = N · tilesH · tilesW tiles, tile t = (n, i, j)
// covering outputs [4i, 4i+4) × [4j, 4j+4) (cropped at the edges): a tile's 36 transformed
// values are contiguous, so the transforms stream through memory, and the product for position ξ
// reads rows 36 apart (OpenBLAS packs them anyway). Each of the 36 products is a chunk; transforms
// are chunked by image. Every sum has a fixed order, so results do not depend on the thread count.

/// Shapes and buffer sizes of one Winograd convolution.
public struct Winograd3x3: Sendable {
    public let height: Int, width: Int, channels: Int, filters: Int
    /// 1 for Keras's "same" padding (stride 1, 3×3: one row/column of zeros on each side), 0 for "valid".
    public let pad: Int
    public let outHeight: Int, outWidth: Int
    public let tilesH: Int, tilesW: Int

    public init(height: Int, width: Int, channels: Int, filters: Int, same: Bool) {
        self.height = height
        self.width = width
        self.channels = channels
        self.filters = filters
        pad = same ? 1 : 0
        outHeight = same ? height : height - 2
        outWidth = same ? width : width - 2
        tilesH = (outHeight + 3) / 4
        tilesW = (outWidth + 3) / 4
    }

    /// Tiles per image.
    public var tilesPerImage: Int { tilesH * tilesW }
    /// Floats of the transformed kernel U (and of its gradient dU): 36 × C × F.
    public var kernelTransformCount: Int { 36 * channels * filters }
    /// Floats per image of the transformed input V (tiles × 36 × C) and of M / dM (tiles × 36 × F).
    public var inputTransformPerImage: Int { 36 * tilesPerImage * channels }
    public var productPerImage: Int { 36 * tilesPerImage * filters }
    /// Floats per image of working space for the tile transforms.
    public var workPerImage: Int { max(72 * channels, 40 * filters) }

    /// Images per group. Each group goes through every step of a pass on one thread, so a core
    /// only ever touches its own images' tiles: handing the 36 products to threads by position
    /// instead moved the transformed tiles between cores, and two threads were slower than one
    /// (this VM's two cores do not share a cache). 32 images keep a group's tiles in cache while
    /// the products stay large enough for sgemm.
    public static let imagesPerGroup = 32

    /// Floats of working space `forward`/`backward` need besides U, V and dU, for `n` images:
    /// M (or dM) for every image, the tile transforms' scratch, and a partial dU per group.
    public func scratchCount(images n: Int) -> Int {
        let groups = (n + Self.imagesPerGroup - 1) / Self.imagesPerGroup
        return n * (productPerImage + workPerImage) + groups * kernelTransformCount
    }

    // MARK: Drivers

    /// y = conv(x, kernel) for images 0..<n. `u` receives the transformed kernel, `v` the
    /// transformed input (n × inputTransformPerImage, kept for `backward`), `scratch` is
    /// `scratchCount(images: n)` floats.
    public func forward(_ x: FloatView, kernel: FloatView, images n: Int, u: FloatView, v: FloatView,
                        scratch: FloatView, into y: FloatView, pool: ThreadPool?) {
        transformKernel(kernel, into: u)
        forEachGroup(n, scratch: scratch, pool: pool) { first, count, m, work, _ in
            let vb = v.slice(first * inputTransformPerImage, count * inputTransformPerImage)
            transformInput(x.slice(first * height * width * channels, count * height * width * channels),
                           images: count, into: vb, work: work, pool: nil)
            multiply(vb, u, images: count, into: m, pool: nil)
            transformOutput(m, images: count, into: y.slice(first * outHeight * outWidth * filters,
                                                             count * outHeight * outWidth * filters),
                            work: work, pool: nil)
        }
    }

    /// dKernel += ∂L/∂kernel and, when dx is given, dx = ∂L/∂x, for dy = ∂L/∂y of the last
    /// `forward` (whose `u` and `v` are passed back; `v` is overwritten). Each group's share of
    /// the kernel gradient is kept apart and the shares are added in group order.
    /// `du` is `kernelTransformCount` floats.
    public func backward(_ dy: FloatView, images n: Int, u: FloatView, v: FloatView, scratch: FloatView,
                         du: FloatView, dKernel: FloatView, dx: FloatView?, pool: ThreadPool?) {
        forEachGroup(n, scratch: scratch, pool: pool) { first, count, m, work, partial in
            let vb = v.slice(first * inputTransformPerImage, count * inputTransformPerImage)
            transformOutputGradient(dy.slice(first * outHeight * outWidth * filters,
                                             count * outHeight * outWidth * filters),
                                    images: count, into: m, work: work, pool: nil)
            productGradient(vb, m, images: count, into: partial)
            if let dx {
                inputGradient(m, u, images: count, scratch: vb,
                              into: dx.slice(first * height * width * channels, count * height * width * channels),
                              work: work, pool: nil)
            }
        }
        // dU = Σ_groups partials, in group order; then dKernel += Gᵀ dU G.
        let groups = (n + Self.imagesPerGroup - 1) / Self.imagesPerGroup
        let partials = scratch.slice(n * (productPerImage + workPerImage), groups * kernelTransformCount)
        let total = kernelTransformCount, pp = partials.base, dup = du.base
        forEachChunk(total, pool: pool) { range in
            for i in range {
                var sum = pp[i]
                for g in 1..<max(1, groups) { sum += pp[g * total + i] }
                dup[i] = sum
            }
        }
        transformKernelGradient(du, into: dKernel)
    }

    /// Runs `body(first, count, m, work, partialDU)` for each group of images on the pool.
    private func forEachGroup(_ n: Int, scratch: FloatView, pool: ThreadPool?,
                              _ body: (Int, Int, FloatView, FloatView, FloatView) -> Void) {
        precondition(scratch.count >= scratchCount(images: n))
        let g = Self.imagesPerGroup, groups = (n + g - 1) / g
        let products = scratch.slice(0, n * productPerImage)
        let works = scratch.slice(n * productPerImage, n * workPerImage)
        let partials = scratch.slice(n * (productPerImage + workPerImage), groups * kernelTransformCount)
        forEach(groups, pool: pool) { group in
            let first = group * g, count = min(g, n - first)
            body(first, count, products.slice(first * productPerImage, count * productPerImage),
                 works.slice(first * workPerImage, count * workPerImage),
                 partials.slice(group * kernelTransformCount, kernelTransformCount))
        }
    }

    // MARK: Forward

    /// U[ξ][c][f] = (G g Gᵀ)[ξ] for g = kernel[:, :, c, f].
    public func transformKernel(_ kernel: FloatView, into u: FloatView) {
        precondition(kernel.count >= 9 * channels * filters && u.count >= kernelTransformCount)
        let g = kernel.base, out = u.base, cf = channels * filters
        for c in 0..<channels {
            for f in 0..<filters {
                // g[r][s] sits at ((r·3 + s)·C + c)·F + f.
                func w(_ r: Int, _ s: Int) -> Float { g[((r * 3 + s) * channels + c) * filters + f] }
                let c0 = kernelRow(w(0, 0), w(1, 0), w(2, 0))     // columns of G g: 6 × 3
                let c1 = kernelRow(w(0, 1), w(1, 1), w(2, 1))
                let c2 = kernelRow(w(0, 2), w(1, 2), w(2, 2))
                for r in 0..<6 {
                    let u = kernelRow(c0[r], c1[r], c2[r])          // row r of (G g) Gᵀ
                    for s in 0..<6 { out[(r * 6 + s) * cf + c * filters + f] = u[s] }
                }
            }
        }
    }

    /// V = Bᵀ d B for every tile of images 0..<n, into v (n·tiles, 36, C).
    public func transformInput(_ x: FloatView, images n: Int, into v: FloatView, work: FloatView,
                               pool: ThreadPool?) {
        let t = n * tilesPerImage, c = channels
        precondition(x.count >= n * height * width * c && v.count >= 36 * t * c && work.count >= n * workPerImage)
        let xp = x.base, vp = v.base
        forEach(n, pool: pool) { image in
            // The 6×6×C patch and its rows transformed by Bᵀ, in this image's working space.
            do {
                let patch = work.base + image * workPerImage, rows = patch + 36 * c
                for i in 0..<tilesH {
                    for j in 0..<tilesW {
                        let tile = (image * tilesH + i) * tilesW + j
                        // Gather the 6×6×C patch with zeros outside the image.
                        for r in 0..<6 {
                            let y = i * 4 - pad + r
                            for s in 0..<6 {
                                let xx = j * 4 - pad + s
                                let dst = patch + (r * 6 + s) * c
                                if y >= 0 && y < height && xx >= 0 && xx < width {
                                    dst.update(from: xp + ((image * height + y) * width + xx) * c, count: c)
                                } else {
                                    dst.update(repeating: 0, count: c)
                                }
                            }
                        }
                        // rows = Bᵀ · patch (over r), then V = rows · B (over s).
                        for s in 0..<6 {
                            inputColumn(patch, stride: 6 * c, offset: s * c, count: c, into: rows,
                                        outStride: 6 * c, outOffset: s * c)
                        }
                        for r in 0..<6 {
                            inputColumn(rows + r * 6 * c, stride: c, offset: 0, count: c,
                                        into: vp + tile * 36 * c, outStride: c, outOffset: 0,
                                        outBase: r * 6)
                        }
                    }
                }
            }
        }
    }

    /// M[ξ] = V[ξ] · U[ξ] for the 36 positions: (n·tiles × C) · (C × F).
    public func multiply(_ v: FloatView, _ u: FloatView, images n: Int, into m: FloatView, pool: ThreadPool?) {
        let t = n * tilesPerImage, c = channels, f = filters
        forEach(36, pool: pool) { xi in
            gemm(m: t, n: f, k: c, a: v.slice(xi * c, (t - 1) * 36 * c + c), lda: 36 * c,
                 b: u.slice(xi * c * f, c * f), ldb: f,
                 beta: 0, c: m.slice(xi * f, (t - 1) * 36 * f + f), ldc: 36 * f)
        }
    }

    /// Y = Aᵀ M A for every tile, cropped to the output, into y (n, OH, OW, F).
    public func transformOutput(_ m: FloatView, images n: Int, into y: FloatView, work: FloatView,
                                pool: ThreadPool?) {
        let t = n * tilesPerImage, f = filters
        precondition(m.count >= 36 * t * f && y.count >= n * outHeight * outWidth * f && work.count >= n * workPerImage)
        let mp = m.base, yp = y.base
        forEach(n, pool: pool) { image in
            do {
                let rows = work.base + image * workPerImage, out = rows + 24 * f   // (Aᵀ M): 4×6, then 4×4
                for i in 0..<tilesH {
                    for j in 0..<tilesW {
                        let tile = (image * tilesH + i) * tilesW + j
                        // rows = Aᵀ · M over r (6 → 4), then out = rows · A over s.
                        for s in 0..<6 {
                            outputColumn(mp + tile * 36 * f + s * f, stride: 6 * f, count: f,
                                         into: rows + s * f, outStride: 6 * f)
                        }
                        for r in 0..<4 {
                            outputColumn(rows + r * 6 * f, stride: f, count: f, into: out + r * 4 * f, outStride: f)
                        }
                        for r in 0..<min(4, outHeight - i * 4) {
                            for s in 0..<min(4, outWidth - j * 4) {
                                (yp + ((image * outHeight + i * 4 + r) * outWidth + j * 4 + s) * f)
                                    .update(from: out + (r * 4 + s) * f, count: f)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: Backward

    /// dM = A dY Aᵀ for every tile (dY zero beyond the output's edge), into dm (n·tiles, 36, F).
    public func transformOutputGradient(_ dy: FloatView, images n: Int, into dm: FloatView, work: FloatView,
                                        pool: ThreadPool?) {
        let t = n * tilesPerImage, f = filters
        precondition(dy.count >= n * outHeight * outWidth * f && dm.count >= 36 * t * f && work.count >= n * workPerImage)
        let dyp = dy.base, dmp = dm.base
        forEach(n, pool: pool) { image in
            do {
                let tileGradient = work.base + image * workPerImage, cols = tileGradient + 16 * f   // 4×4, then 4×6
                for i in 0..<tilesH {
                    for j in 0..<tilesW {
                        let tile = (image * tilesH + i) * tilesW + j
                        for r in 0..<4 {
                            for s in 0..<4 {
                                let dst = tileGradient + (r * 4 + s) * f
                                if i * 4 + r < outHeight && j * 4 + s < outWidth {
                                    dst.update(from: dyp + ((image * outHeight + i * 4 + r) * outWidth + j * 4 + s) * f,
                                               count: f)
                                } else {
                                    dst.update(repeating: 0, count: f)
                                }
                            }
                        }
                        // cols[r][·] = A · dY[r][·] over s (4 → 6), then dM = A · cols over r.
                        for r in 0..<4 {
                            outputAdjoint(tileGradient + r * 4 * f, stride: f, count: f, into: cols + r * 6 * f,
                                          outStride: f)
                        }
                        for s in 0..<6 {
                            outputAdjoint(cols + s * f, stride: 6 * f, count: f, into: dmp + tile * 36 * f + s * f,
                                          outStride: 6 * f)
                        }
                    }
                }
            }
        }
    }

    /// dU[ξ] = V[ξ]ᵀ · dM[ξ], summed over the tiles of images 0..<n (one sgemm per position).
    public func productGradient(_ v: FloatView, _ dm: FloatView, images n: Int, into du: FloatView,
                                pool: ThreadPool? = nil) {
        let t = n * tilesPerImage, c = channels, f = filters
        forEach(36, pool: pool) { xi in
            gemm(transA: true, m: c, n: f, k: t, a: v.slice(xi * c, (t - 1) * 36 * c + c), lda: 36 * c,
                 b: dm.slice(xi * f, (t - 1) * 36 * f + f), ldb: 36 * f,
                 beta: 0, c: du.slice(xi * c * f, c * f), ldc: f)
        }
    }

    /// dKernel += Gᵀ dU G for every (c, f).
    public func transformKernelGradient(_ du: FloatView, into dKernel: FloatView) {
        let dup = du.base, dk = dKernel.base, cf = channels * filters
        for c in 0..<channels {
            for f in 0..<filters {
                // dU[a][b] sits at (a·6 + b)·C·F + c·F + f; rows = dU G (6 × 3), then Gᵀ rows.
                func d(_ a: Int, _ b: Int) -> Float { dup[(a * 6 + b) * cf + c * filters + f] }
                let r0 = kernelAdjoint(d(0, 0), d(0, 1), d(0, 2), d(0, 3), d(0, 4), d(0, 5))
                let r1 = kernelAdjoint(d(1, 0), d(1, 1), d(1, 2), d(1, 3), d(1, 4), d(1, 5))
                let r2 = kernelAdjoint(d(2, 0), d(2, 1), d(2, 2), d(2, 3), d(2, 4), d(2, 5))
                let r3 = kernelAdjoint(d(3, 0), d(3, 1), d(3, 2), d(3, 3), d(3, 4), d(3, 5))
                let r4 = kernelAdjoint(d(4, 0), d(4, 1), d(4, 2), d(4, 3), d(4, 4), d(4, 5))
                let r5 = kernelAdjoint(d(5, 0), d(5, 1), d(5, 2), d(5, 3), d(5, 4), d(5, 5))
                for s in 0..<3 {
                    let g = kernelAdjoint(r0[s], r1[s], r2[s], r3[s], r4[s], r5[s])
                    for r in 0..<3 { dk[((r * 3 + s) * channels + c) * filters + f] += g[r] }
                }
            }
        }
    }

    /// dV[ξ] = dM[ξ] · U[ξ]ᵀ into v (which then no longer holds V), and dX = Σ_tiles B dV Bᵀ
    /// (overlapping tiles added in tile order) into dx, which is overwritten.
    public func inputGradient(_ dm: FloatView, _ u: FloatView, images n: Int, scratch v: FloatView,
                              into dx: FloatView, work: FloatView, pool: ThreadPool?) {
        let t = n * tilesPerImage, c = channels, f = filters
        forEach(36, pool: pool) { xi in
            gemm(transB: true, m: t, n: c, k: f, a: dm.slice(xi * f, (t - 1) * 36 * f + f), lda: 36 * f,
                 b: u.slice(xi * c * f, c * f), ldb: f,
                 beta: 0, c: v.slice(xi * c, (t - 1) * 36 * c + c), ldc: 36 * c)
        }
        precondition(dx.count >= n * height * width * c && work.count >= n * workPerImage)
        let vp = v.base, dxp = dx.base
        forEach(n, pool: pool) { image in
            (dxp + image * height * width * c).update(repeating: 0, count: height * width * c)
            do {
                let rows = work.base + image * workPerImage, patch = rows + 36 * c
                for i in 0..<tilesH {
                    for j in 0..<tilesW {
                        let tile = (image * tilesH + i) * tilesW + j
                        // rows = dV · Bᵀ over s, then patch = B · rows over r.
                        for r in 0..<6 {
                            inputAdjoint(vp + tile * 36 * c + r * 6 * c, stride: c, count: c,
                                         into: rows + r * 6 * c, outStride: c)
                        }
                        for s in 0..<6 {
                            inputAdjoint(rows + s * c, stride: 6 * c, count: c, into: patch + s * c,
                                         outStride: 6 * c)
                        }
                        for r in 0..<6 {
                            let y = i * 4 - pad + r
                            if y < 0 || y >= height { continue }
                            for s in 0..<6 {
                                let xx = j * 4 - pad + s
                                if xx < 0 || xx >= width { continue }
                                let dst = dxp + ((image * height + y) * width + xx) * c
                                let src = patch + (r * 6 + s) * c
                                for k in 0..<c { dst[k] += src[k] }
                            }
                        }
                    }
                }
            }
        }
    }
}

// MARK: - The 1-D transforms, applied to `count` channels at once

/// u = G g for one 3-vector (G is 6×3).
@inline(__always)
private func kernelRow(_ g0: Float, _ g1: Float, _ g2: Float) -> SIMD8<Float> {
    SIMD8(g0 / 4, -(g0 + g1 + g2) / 6, -(g0 - g1 + g2) / 6, g0 / 24 + g1 / 12 + g2 / 6,
          g0 / 24 - g1 / 12 + g2 / 6, g2, 0, 0)
}

/// dg = Gᵀ du for one 6-vector.
@inline(__always)
private func kernelAdjoint(_ d0: Float, _ d1: Float, _ d2: Float, _ d3: Float, _ d4: Float,
                           _ d5: Float) -> SIMD4<Float> {
    SIMD4(d0 / 4 - d1 / 6 - d2 / 6 + d3 / 24 + d4 / 24,
          -d1 / 6 + d2 / 6 + d3 / 12 - d4 / 12,
          -d1 / 6 - d2 / 6 + d3 / 6 + d4 / 6 + d5, 0)
}

/// out = Bᵀ d, d_k at `src + offset + k·stride` (k < 6), each a run of `count` channels; the six
/// results go to `dst + outOffset + (outBase + ·)·outStride`.
@inline(__always)
private func inputColumn(_ src: UnsafeMutablePointer<Float>, stride: Int, offset: Int, count: Int,
                         into dst: UnsafeMutablePointer<Float>, outStride: Int, outOffset: Int, outBase: Int = 0) {
    let d0 = src + offset, d1 = d0 + stride, d2 = d1 + stride, d3 = d2 + stride, d4 = d3 + stride, d5 = d4 + stride
    let o = dst + outOffset + outBase * outStride
    let o0 = o, o1 = o + outStride, o2 = o1 + outStride, o3 = o2 + outStride, o4 = o3 + outStride, o5 = o4 + outStride
    for k in 0..<count {
        let a = d0[k], b = d1[k], c = d2[k], d = d3[k], e = d4[k], f = d5[k]
        o0[k] = 4 * a - 5 * c + e
        o1[k] = -4 * b - 4 * c + d + e
        o2[k] = 4 * b - 4 * c - d + e
        o3[k] = -2 * b - c + 2 * d + e
        o4[k] = 2 * b - c - 2 * d + e
        o5[k] = 4 * b - 5 * d + f
    }
}

/// dd = B dr (the adjoint of `inputColumn`), six inputs `stride` apart → six outputs `outStride` apart.
@inline(__always)
private func inputAdjoint(_ src: UnsafeMutablePointer<Float>, stride: Int, count: Int,
                          into dst: UnsafeMutablePointer<Float>, outStride: Int) {
    let r0 = src, r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride, r4 = r3 + stride, r5 = r4 + stride
    let o0 = dst, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride, o4 = o3 + outStride,
        o5 = o4 + outStride
    for k in 0..<count {
        let a = r0[k], b = r1[k], c = r2[k], d = r3[k], e = r4[k], f = r5[k]
        o0[k] = 4 * a
        o1[k] = -4 * b + 4 * c - 2 * d + 2 * e + 4 * f
        o2[k] = -5 * a - 4 * b - 4 * c - d - e
        o3[k] = b - c + 2 * d - 2 * e - 5 * f
        o4[k] = a + b + c + d + e
        o5[k] = f
    }
}

/// o = Aᵀ m (4 from 6), six inputs `stride` apart → four outputs `outStride` apart.
@inline(__always)
private func outputColumn(_ src: UnsafeMutablePointer<Float>, stride: Int, count: Int,
                          into dst: UnsafeMutablePointer<Float>, outStride: Int) {
    let m0 = src, m1 = m0 + stride, m2 = m1 + stride, m3 = m2 + stride, m4 = m3 + stride, m5 = m4 + stride
    let o0 = dst, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride
    for k in 0..<count {
        let a = m0[k], b = m1[k], c = m2[k], d = m3[k], e = m4[k], f = m5[k]
        o0[k] = a + b + c + d + e
        o1[k] = b - c + 2 * d - 2 * e
        o2[k] = b + c + 4 * d + 4 * e
        o3[k] = b - c + 8 * d - 8 * e + f
    }
}

/// dm = A do (6 from 4), four inputs `stride` apart → six outputs `outStride` apart.
@inline(__always)
private func outputAdjoint(_ src: UnsafeMutablePointer<Float>, stride: Int, count: Int,
                           into dst: UnsafeMutablePointer<Float>, outStride: Int) {
    let d0 = src, d1 = d0 + stride, d2 = d1 + stride, d3 = d2 + stride
    let o0 = dst, o1 = o0 + outStride, o2 = o1 + outStride, o3 = o2 + outStride, o4 = o3 + outStride,
        o5 = o4 + outStride
    for k in 0..<count {
        let a = d0[k], b = d1[k], c = d2[k], d = d3[k]
        o0[k] = a
        o1[k] = a + b + c + d
        o2[k] = a - b + c - d
        o3[k] = a + 2 * b + 4 * c + 8 * d
        o4[k] = a - 2 * b + 4 * c - 8 * d
        o5[k] = d
    }
}
