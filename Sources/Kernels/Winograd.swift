// 3×3, stride-1 convolution by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, 2015):
// each 4×4 block of outputs is computed from a 6×6 block of inputs with 36 multiplications per
// (input channel, filter) instead of 144. Batched over tiles, the multiplications become 36
// independent matrix products: single-threaded `cblas_sgemm` on the portable path, our own
// AVX2/FMA kernels (Sources/CKernels/winograd_gemm.c) where the CPU has them.
//
//   forward   Y = f(Aᵀ [ U ⊙ V ] A + b),   U = G g Gᵀ (kernel),  V = Bᵀ d B (6×6 input tile)
//   backward  the exact adjoints of the same three linear maps:
//             dZ = dY ⊙ f'; dM = A dZ Aᵀ;  dU = Σ_tiles V ⊙ dM → dg = Gᵀ dU G;  dV = U ⊙ dM → dd = B dV Bᵀ
//
// Layout: x (N, H, W, C) and y (N, OH, OW, F) channels last; kernel (3, 3, C, F) as Keras stores
// it. Images are processed in groups (`imagesPerGroup`, one thread each) of blocks
// (`imagesPerBlock`); within a block of T tiles, tile t = (image, i, j) covers outputs
// [4i, 4i+4) × [4j, 4j+4) (cropped at the edges), and the transformed tensors are
// position-major: V (36, T, C), M and dM (36, T, F). So the product for
// position ξ reads and writes contiguous (T × ·) matrices, and the tile transforms write (or read)
// 36 runs of C (or F) floats per tile, 8 channels at a time in SIMD8 vectors.
//
// f is ReLU or the identity, with an optional bias b, applied inside the output transform (and
// its derivative and the bias gradient inside the output-gradient transform), so the layer makes
// no separate pass over y or dy.
//
// Every sum has a fixed order (tiles in order within a group, groups added in group order), so
// results do not depend on the thread count.
//
// On CPUs with AVX2 and FMA the four tile transforms run in C (Sources/CKernels,
// compiled for AVX2+FMA only) instead of the SIMD8 code here, which is compiled for baseline
// x86-64 (4-float SSE vectors, no FMA). So do the products: OpenBLAS packs both operands on
// every call, which for products this small (cnn.yaml's second layer under F(4×4) in blocks of 4
// images: 36 × 32 times 32 × 64) costs a third as much as the arithmetic, and its kernels ran at ~70% of
// this CPU's FMA peak where winograd_gemm.c's run at ~90%. dV = dM · Uᵀ becomes a plain product too,
// with Uᵀ transposed once per backward. The choice is made once per convolution, so a run uses
// one code path throughout and stays independent of the thread count.
//
// A layer whose output goes on through 2×2 max pooling may instead use F(5×5, 3×3)
// (Sources/CKernels/winograd_f5x5.c, AVX2/FMA only: 7×7 tiles, 49 positions) when that computes
// fewer products for the outputs the pooling reads: cnn.yaml's second layer needs 10×10
// outputs, four 5×5 tiles (4·49 = 196 products per channel and filter) against nine 4×4 ones
// (9·36 = 324). `tile` says which; everything below with 36 positions has `positions` of them.
import CBLAS
import CKernels

/// Shapes and buffer sizes of one Winograd convolution.
public struct Winograd3x3: Sendable {
    public let height: Int, width: Int, channels: Int, filters: Int
    /// 1 for Keras's "same" padding (stride 1, 3×3: one row/column of zeros on each side), 0 for "valid".
    public let pad: Int
    public let outHeight: Int, outWidth: Int
    public let tilesH: Int, tilesW: Int
    /// Whether the tile transforms that have an AVX2/FMA version use it.
    public let avx2: Bool
    /// Whether the products use the AVX2/FMA kernels of winograd_gemm.c instead of `cblas_sgemm`.
    public let avx2Products: Bool
    /// Outputs per tile side: 4 for F(4×4, 3×3), 5 for F(5×5, 3×3) (pooled layers, AVX2 only).
    public let tile: Int

    /// True when this CPU has AVX2 and FMA.
    public static let avx2Available = ck_has_avx2_fma() != 0

    /// `avx2: false` forces the portable transforms and OpenBLAS products; `avx2Products` (by
    /// default the same as `avx2`) chooses the products alone (the tests compare the paths).
    /// With `pooled` (the output goes on through 2×2 max pooling) and AVX2, F(5×5, 3×3) is taken
    /// when it needs fewer products for the pooled outputs, unless `tile` says otherwise (4 or 5).
    public init(height: Int, width: Int, channels: Int, filters: Int, same: Bool,
                avx2: Bool = Winograd3x3.avx2Available, avx2Products: Bool? = nil, pooled: Bool = false,
                tile: Int? = nil) {
        precondition(!avx2 || Self.avx2Available, "AVX2/FMA transforms asked for on a CPU without them")
        precondition(!(avx2Products ?? false) || Self.avx2Available, "AVX2/FMA products asked for on a CPU without them")
        self.avx2 = avx2
        self.avx2Products = avx2Products ?? avx2
        self.height = height
        self.width = width
        self.channels = channels
        self.filters = filters
        pad = same ? 1 : 0
        outHeight = same ? height : height - 2
        outWidth = same ? width : width - 2
        // F(5×5): tiles over the outputs the pooling reads (2·⌊OH/2⌋ × 2·⌊OW/2⌋).
        let needH = outHeight / 2 * 2, needW = outWidth / 2 * 2
        let (fiveH, fiveW) = ((needH + 4) / 5, (needW + 4) / 5)
        let four = ((outHeight + 3) / 4) * ((outWidth + 3) / 4) * 36, five = fiveH * fiveW * 49
        let fiveFits = avx2 && pooled && needH > 0 && needW > 0 && ck_wino5_supported(Int32(fiveH), Int32(fiveW)) != 0
        precondition(tile != 5 || fiveFits, "F(5×5, 3×3) asked for where it does not apply")
        self.tile = tile ?? (fiveFits && five < four ? 5 : 4)
        if self.tile == 5 {
            (tilesH, tilesW) = (fiveH, fiveW)
        } else {
            tilesH = (outHeight + 3) / 4
            tilesW = (outWidth + 3) / 4
        }
    }

    /// Transformed positions per tile: (tile + 2)², 36 or 49.
    public var positions: Int { (tile + 2) * (tile + 2) }

    /// Tiles per image.
    public var tilesPerImage: Int { tilesH * tilesW }
    /// Floats of the transformed kernel U (and of its gradient dU): positions × C × F.
    public var kernelTransformCount: Int { positions * channels * filters }
    /// Floats per image of the transformed input V (tiles × positions × C) and of M / dM (tiles × positions × F).
    public var inputTransformPerImage: Int { positions * tilesPerImage * channels }
    public var productPerImage: Int { positions * tilesPerImage * filters }
    /// Floats of working space per group for the tile transforms (40 vectors of 8).
    static let workPerGroup = 40 * 8
    /// Floats (and Int32s of argmax) per image of the output after 2×2 max pooling.
    public var pooledPerImage: Int { (outHeight / 2) * (outWidth / 2) * filters }

    /// Images per group. Each group goes through every step of a pass on one thread, so a core
    /// only ever touches its own images' tiles: handing the 36 products to threads by position
    /// instead moved the transformed tiles between cores, and two threads were slower than one
    /// (this VM's two cores do not share a cache). 32 images keep a group's tiles in cache while
    /// the products stay large enough for sgemm.
    public static let imagesPerGroup = 32
    /// Images per block within a group: each step of a pass runs on one block at a time, so the
    /// block's V and M (0.5 MB for 4 images of cnn.yaml's second layer) stay in this core's
    /// L2 cache between the transforms and the products, the group's kernel-gradient share is
    /// accumulated block after block (in order), and M's memory is the same for every block.
    /// With winograd_gemm.c's products, which repack nothing per call, smaller blocks are faster as long
    /// as their T rows fill whole 6-row register tiles: the fewest images (up to 4) that do, else 2.
    /// Measured (layer-bench, cnn.yaml's second layer, 1 thread): F(4×4), 9 tiles an image, 2
    /// images (18 rows) as fast forward as 4 and 4% faster backward, 8 were 10% slower; F(5×5),
    /// 4 tiles an image, 3 images (12 rows) 7% faster forward and 10% backward than 2 (8 rows),
    /// 5% than 6. OpenBLAS keeps 4 for its larger products.
    public var imagesPerBlock: Int {
        avx2Products ? (1...4).first { $0 * tilesPerImage % 6 == 0 } ?? 2 : 4
    }

    func groups(_ n: Int) -> Int { (n + Self.imagesPerGroup - 1) / Self.imagesPerGroup }

    /// Floats of working space `forward`/`backward` need besides U, V and dU, for `n` images:
    /// M (or dM) for every image, and per group the transforms' scratch, a partial dU and a
    /// partial bias gradient.
    public func scratchCount(images n: Int) -> Int {
        n * productPerImage + groups(n) * groupScratch
    }
    private var groupScratch: Int { Self.workPerGroup + kernelTransformCount + filters }
    /// A split of `scratchCount` into a part per image and a fixed part:
    /// scratchCount(images: n) ≤ n · scratchPerImage + scratchFixed for every n.
    public var scratchPerImage: Int { productPerImage + (groupScratch + Self.imagesPerGroup - 1) / Self.imagesPerGroup }
    public var scratchFixed: Int { groupScratch }

    // MARK: Drivers

    /// y = f(conv(x, kernel) + bias) for images 0..<n, f = ReLU when `relu`, else the identity.
    /// `u` receives the transformed kernel, `v` the transformed input (n × inputTransformPerImage,
    /// kept for `backward`), `scratch` is `scratchCount(images: n)` floats.
    /// With `poolArgmax`, the output goes on through 2×2 max pooling (stride 2, valid) as in
    /// ConvolutionPool.swift: y is the pooled (n, OH/2, OW/2, F) and poolArgmax (as many Int32s)
    /// the position of each maximum in its window.
    public func forward(_ x: FloatView, kernel: FloatView, bias: FloatView? = nil, relu: Bool = false,
                        images n: Int, u: FloatView, v: FloatView, scratch: FloatView, into y: FloatView,
                        poolArgmax: FloatView? = nil, pool: ThreadPool?) {
        let perImage = poolArgmax == nil ? outHeight * outWidth * filters : pooledPerImage
        precondition(x.count >= n * height * width * channels && v.count >= n * inputTransformPerImage
                     && y.count >= n * perImage && (poolArgmax?.count ?? .max) >= n * perImage)
        let argmax = poolArgmax.map { UnsafeMutableRawPointer($0.base).assumingMemoryBound(to: Int32.self) }
        if let bias { precondition(bias.count >= filters) }
        precondition(tile == 4 || argmax != nil, "F(5×5, 3×3) computes pooled outputs only")
        transformKernel(kernel, into: u, pool: pool)
        let xp = x.base, yp = y.base, vp = v.base, up = u.base, bp = bias?.base
        forEachBlock(n, scratch: scratch, pool: pool) { first, count, m, work, _, _ in
            let vg = vp + first * inputTransformPerImage
            transformInput(xp + first * height * width * channels, images: count, into: vg, work: work)
            let t = count * tilesPerImage, c = channels, f = filters
            for xi in 0..<positions {
                if avx2Products {
                    ck_wgemm_nn(Int32(t), Int32(f), Int32(c), vg + xi * t * c, Int32(c), up + xi * c * f, Int32(f),
                                m + xi * t * f, Int32(f), 0)
                } else {
                    sgemm(m: t, n: f, k: c, a: vg + xi * t * c, lda: c, b: up + xi * c * f, ldb: f,
                          c: m + xi * t * f, ldc: f)
                }
            }
            transformOutput(m, images: count, bias: bp, relu: relu, into: yp + first * perImage,
                            argmax: argmax.map { $0 + first * perImage }, work: work)
        }
    }

    /// dKernel += ∂L/∂kernel, biasGradient += ∂L/∂bias (when given) and, when dx is given,
    /// dx = ∂L/∂x, for dy = ∂L/∂y of the last `forward` (whose output `y`, `u` and `v` are passed
    /// back; `v` is overwritten). `y` is needed only with `relu`. Each group's share of the kernel
    /// and bias gradients is kept apart and the shares are added in group order.
    /// `du` is `kernelTransformCount` floats.
    /// With `poolArgmax` (of a pooled `forward`), dy and y are the pooled gradient and output.
    public func backward(_ dy: FloatView, y: FloatView? = nil, relu: Bool = false, images n: Int,
                         u: FloatView, v: FloatView, scratch: FloatView, du: FloatView, dKernel: FloatView,
                         biasGradient: FloatView? = nil, dx: FloatView?, poolArgmax: FloatView? = nil,
                         pool: ThreadPool?) {
        let perImage = poolArgmax == nil ? outHeight * outWidth * filters : pooledPerImage
        let outCount = n * perImage
        let argmax = poolArgmax.map { UnsafeMutableRawPointer($0.base).assumingMemoryBound(to: Int32.self) }
        if poolArgmax != nil { precondition(y != nil && y!.count >= outCount && poolArgmax!.count >= outCount) }
        precondition(dy.count >= outCount && v.count >= n * inputTransformPerImage)
        if relu { precondition(y != nil && y!.count >= outCount) }
        if let dx { precondition(dx.count >= n * height * width * channels) }
        precondition(du.count >= kernelTransformCount)
        let dyp = dy.base, yp = relu || poolArgmax != nil ? y!.base : nil, vp = v.base, up = u.base, dxp = dx?.base
        // With our products, dV = dM · Uᵀ reads Uᵀ (positions, F, C), made here in du's memory,
        // which receives dU only after the blocks.
        let ut = du.base
        if avx2Products && dx != nil {
            let c = channels, f = filters
            forEach(positions, pool: pool) { xi in
                ck_transpose(Int32(c), Int32(f), up + xi * c * f, Int32(f), ut + xi * c * f, Int32(c))
            }
        }
        forEachBlock(n, scratch: scratch, pool: pool) { first, count, m, work, partial, biasPartial in
            let vg = vp + first * inputTransformPerImage
            let offset = first * perImage, firstOfGroup = first % Self.imagesPerGroup == 0
            if firstOfGroup { biasPartial.update(repeating: 0, count: filters) }
            transformOutputGradient(dyp + offset, y: yp.map { $0 + offset }, relu: relu,
                                    argmax: argmax.map { $0 + offset }, images: count, into: m,
                                    biasSums: biasPartial, work: work)
            let t = count * tilesPerImage, c = channels, f = filters
            // dU[ξ] = V[ξ]ᵀ · dM[ξ], summed over the group's tiles: the first block's, then each
            // next block's added.
            for xi in 0..<positions {
                if avx2Products {
                    ck_wgemm_tn(Int32(c), Int32(f), Int32(t), vg + xi * t * c, Int32(c), m + xi * t * f, Int32(f),
                                partial + xi * c * f, Int32(f), firstOfGroup ? 0 : 1)
                } else {
                    sgemm(transA: true, m: c, n: f, k: t, a: vg + xi * t * c, lda: c, b: m + xi * t * f, ldb: f,
                          beta: firstOfGroup ? 0 : 1, c: partial + xi * c * f, ldc: f)
                }
            }
            guard let dxp else { return }
            // dV[ξ] = dM[ξ] · U[ξ]ᵀ, into V's memory.
            for xi in 0..<positions {
                if avx2Products {
                    ck_wgemm_nn(Int32(t), Int32(c), Int32(f), m + xi * t * f, Int32(f), ut + xi * c * f, Int32(c),
                                vg + xi * t * c, Int32(c), 0)
                } else {
                    sgemm(transB: true, m: t, n: c, k: f, a: m + xi * t * f, lda: f, b: up + xi * c * f, ldb: f,
                          c: vg + xi * t * c, ldc: c)
                }
            }
            transformInputGradient(vg, images: count, into: dxp + first * height * width * channels, work: work)
        }
        // dU = Σ_groups partials, in group order; then dKernel += Gᵀ dU G. Likewise the bias.
        let groups = groups(n), total = kernelTransformCount, gs = groupScratch
        let sp = scratch.base + n * productPerImage, dup = du.base
        forEachChunk(total, pool: pool) { range in
            for i in range {
                var sum = sp[Self.workPerGroup + i]
                for g in 1..<max(1, groups) { sum += sp[g * gs + Self.workPerGroup + i] }
                dup[i] = sum
            }
        }
        if let biasGradient {
            precondition(biasGradient.count >= filters)
            let bg = biasGradient.base
            for g in 0..<groups {
                let part = sp + g * gs + Self.workPerGroup + total
                for j in 0..<filters { bg[j] += part[j] }
            }
        }
        transformKernelGradient(du, into: dKernel, pool: pool)
    }

    /// Runs `body(first, count, m, work, partialDU, partialBias)` for each block of images, the
    /// blocks of a group in order on one thread (with that group's scratch), the groups on the pool.
    private func forEachBlock(_ n: Int, scratch: FloatView, pool: ThreadPool?,
                              _ body: (Int, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                       UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        forEachGroup(n, scratch: scratch, pool: pool) { first, count, m, work, partial, biasPartial in
            for start in stride(from: first, to: first + count, by: imagesPerBlock) {
                body(start, min(imagesPerBlock, first + count - start), m, work, partial, biasPartial)
            }
        }
    }

    /// Runs `body(first, count, m, work, partialDU, partialBias)` for each group of images on the pool.
    private func forEachGroup(_ n: Int, scratch: FloatView, pool: ThreadPool?,
                              _ body: (Int, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                       UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        precondition(scratch.count >= scratchCount(images: n))
        let g = Self.imagesPerGroup, groups = groups(n)
        let products = scratch.base, perGroup = products + n * productPerImage, gs = groupScratch
        forEach(groups, pool: pool) { group in
            let first = group * g, count = min(g, n - first)
            let own = perGroup + group * gs
            body(first, count, products + first * productPerImage, own, own + Self.workPerGroup,
                 own + Self.workPerGroup + kernelTransformCount)
        }
    }

    // MARK: Kernel transforms (once per step, small)

    /// U[ξ][c][f] = (G g Gᵀ)[ξ] for g = kernel[:, :, c, f]; one chunk per input channel, 8
    /// filters at a time.
    public func transformKernel(_ kernel: FloatView, into u: FloatView, pool: ThreadPool? = nil) {
        precondition(kernel.count >= 9 * channels * filters && u.count >= kernelTransformCount)
        let g = kernel.base, out = u.base, cf = channels * filters, f = filters
        if tile == 5 {
            forEach(channels, pool: pool) { c in ck_wino5_kernel(g, Int32(channels), Int32(f), Int32(c), Int32(c + 1), out) }
            return
        }
        forEach(channels, pool: pool) { c in
            for k in stride(from: 0, to: f, by: 8) {
                let lanes = min(8, f - k)
                // g[r][s] sits at ((r·3 + s)·C + c)·F + f.
                @inline(__always) func w(_ r: Int, _ s: Int) -> SIMD8<Float> { load(g + ((r * 3 + s) * channels + c) * f + k, lanes) }
                let c0 = kernelColumn(w(0, 0), w(1, 0), w(2, 0))     // columns of G g: 6 × 3
                let c1 = kernelColumn(w(0, 1), w(1, 1), w(2, 1))
                let c2 = kernelColumn(w(0, 2), w(1, 2), w(2, 2))
                @inline(__always) func row(_ r: Int, _ a: SIMD8<Float>, _ b: SIMD8<Float>, _ d: SIMD8<Float>) {
                    let o = kernelColumn(a, b, d)                   // row r of (G g) Gᵀ
                    let at = out + r * 6 * cf + c * f + k
                    store(o.0, at, lanes); store(o.1, at + cf, lanes); store(o.2, at + 2 * cf, lanes)
                    store(o.3, at + 3 * cf, lanes); store(o.4, at + 4 * cf, lanes); store(o.5, at + 5 * cf, lanes)
                }
                row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2)
                row(3, c0.3, c1.3, c2.3); row(4, c0.4, c1.4, c2.4); row(5, c0.5, c1.5, c2.5)
            }
        }
    }

    /// dKernel += Gᵀ dU G for every (c, f); one chunk per input channel, 8 filters at a time.
    public func transformKernelGradient(_ du: FloatView, into dKernel: FloatView, pool: ThreadPool? = nil) {
        let dup = du.base, dk = dKernel.base, cf = channels * filters, f = filters
        if tile == 5 {
            forEach(channels, pool: pool) { c in
                ck_wino5_kernel_gradient(dup, Int32(channels), Int32(f), Int32(c), Int32(c + 1), dk)
            }
            return
        }
        forEach(channels, pool: pool) { c in
            for k in stride(from: 0, to: f, by: 8) {
                let lanes = min(8, f - k)
                // dU[a][b] sits at (a·6 + b)·C·F + c·F + f; rows = dU G (6 × 3), then Gᵀ rows.
                @inline(__always) func row(_ a: Int) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
                    let at = dup + a * 6 * cf + c * f + k
                    return kernelAdjoint(load(at, lanes), load(at + cf, lanes), load(at + 2 * cf, lanes),
                                         load(at + 3 * cf, lanes), load(at + 4 * cf, lanes), load(at + 5 * cf, lanes))
                }
                let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5)
                @inline(__always) func add(_ s: Int, _ d: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)) {
                    let at = dk + (s * channels + c) * f + k, row = 3 * channels * f   // r = 0, 1, 2
                    store(load(at, lanes) + d.0, at, lanes)
                    store(load(at + row, lanes) + d.1, at + row, lanes)
                    store(load(at + 2 * row, lanes) + d.2, at + 2 * row, lanes)
                }
                add(0, kernelAdjoint(r0.0, r1.0, r2.0, r3.0, r4.0, r5.0))
                add(1, kernelAdjoint(r0.1, r1.1, r2.1, r3.1, r4.1, r5.1))
                add(2, kernelAdjoint(r0.2, r1.2, r2.2, r3.2, r4.2, r5.2))
            }
        }
    }

    // MARK: Tile transforms of one group (tiles t = (image, i, j) in order, T of them)

    /// Rows (or columns) r of a tile's 6 starting at `start` that fall inside 0..<size.
    @inline(__always)
    private static func inside(_ start: Int, _ size: Int) -> Range<Int> {
        max(0, -start)..<max(0, min(6, size - start))
    }

    /// V (36, T, C) = Bᵀ d B for every tile of `images` images starting at x.
    func transformInput(_ x: UnsafeMutablePointer<Float>, images: Int, into v: UnsafeMutablePointer<Float>,
                        work: UnsafeMutablePointer<Float>) {
        if tile == 5 {
            ck_wino5_input(x, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad),
                           Int32(tilesH), Int32(tilesW), v)
            return
        }
        if avx2 {
            ck_winograd_input(x, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad),
                              Int32(tilesH), Int32(tilesW), v)
            return
        }
        let c = channels, t = images * tilesPerImage, line = width * c
        let rows = UnsafeMutableRawPointer(work)      // Bᵀ d, 6 × 6 vectors
        var tile = 0
        for image in 0..<images {
            let base = x + image * height * line
            for i in 0..<tilesH {
                let top = i * 4 - pad, rr = Self.inside(top, height)
                for j in 0..<tilesW {
                    let left = j * 4 - pad, cr = Self.inside(left, width)
                    let full = rr.count == 6 && cr.count == 6
                    for k in stride(from: 0, to: c, by: 8) {
                        let lanes = min(8, c - k)
                        let corner = base + top * line + left * c + k
                        // rows[·][s] = Bᵀ · d[·][s], column by column.
                        for s in 0..<6 {
                            @inline(__always) func d(_ r: Int) -> SIMD8<Float> {
                                if full || (rr.contains(r) && cr.contains(s)) {
                                    return load(corner + r * line + s * c, lanes)
                                }
                                return .zero
                            }
                            let o = inputTransform(d(0), d(1), d(2), d(3), d(4), d(5))
                            put(rows, 0 * 6 + s, o.0); put(rows, 1 * 6 + s, o.1); put(rows, 2 * 6 + s, o.2)
                            put(rows, 3 * 6 + s, o.3); put(rows, 4 * 6 + s, o.4); put(rows, 5 * 6 + s, o.5)
                        }
                        // V[r][·] = rows[r][·] · B, row by row, to positions ξ = 6r + s.
                        for r in 0..<6 {
                            let o = inputTransform(get(rows, r * 6), get(rows, r * 6 + 1), get(rows, r * 6 + 2),
                                                   get(rows, r * 6 + 3), get(rows, r * 6 + 4), get(rows, r * 6 + 5))
                            let out = v + ((r * 6) * t + tile) * c + k, step = t * c
                            store(o.0, out, lanes); store(o.1, out + step, lanes)
                            store(o.2, out + 2 * step, lanes); store(o.3, out + 3 * step, lanes)
                            store(o.4, out + 4 * step, lanes); store(o.5, out + 5 * step, lanes)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// y = f(Aᵀ M A + b) for every tile, cropped to the output, into `images` images at y; with
    /// `argmax`, y = maxpool₂ₓ₂(f(Aᵀ M A + b)) (each pooling window lies inside one 4×4 tile).
    func transformOutput(_ m: UnsafeMutablePointer<Float>, images: Int, bias: UnsafeMutablePointer<Float>?,
                         relu: Bool, into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
                         work: UnsafeMutablePointer<Float>) {
        if tile == 5 {
            ck_wino5_output_pool(m, Int32(images), Int32(outHeight), Int32(outWidth), Int32(filters), Int32(tilesH),
                                 Int32(tilesW), bias, relu ? 1 : 0, y, argmax!)
            return
        }
        if avx2 {
            ck_winograd_output(m, Int32(images), Int32(outHeight), Int32(outWidth), Int32(filters), Int32(tilesH),
                               Int32(tilesW), bias, relu ? 1 : 0, y, argmax)
            return
        }
        let f = filters, t = images * tilesPerImage, line = outWidth * f, step = t * f
        let ph = outHeight / 2, pw = outWidth / 2
        let rows = UnsafeMutableRawPointer(work)      // Aᵀ M, 4 × 6 vectors; then the 4 × 4 outputs
        var tile = 0
        for image in 0..<images {
            let base = y + image * (argmax == nil ? outHeight * line : ph * pw * f)
            for i in 0..<tilesH {
                let height = min(4, outHeight - i * 4)
                for j in 0..<tilesW {
                    let width = min(4, outWidth - j * 4)
                    for k in stride(from: 0, to: f, by: 8) {
                        let lanes = min(8, f - k)
                        let b = bias.map { load($0 + k, lanes) } ?? .zero
                        let mt = m + tile * f + k
                        for s in 0..<6 {
                            let column = mt + s * step
                            let o = outputTransform(load(column, lanes), load(column + 6 * step, lanes),
                                                    load(column + 12 * step, lanes), load(column + 18 * step, lanes),
                                                    load(column + 24 * step, lanes), load(column + 30 * step, lanes))
                            put(rows, s, o.0); put(rows, 6 + s, o.1); put(rows, 12 + s, o.2); put(rows, 18 + s, o.3)
                        }
                        for r in 0..<height {
                            let o = outputTransform(get(rows, r * 6), get(rows, r * 6 + 1), get(rows, r * 6 + 2),
                                                    get(rows, r * 6 + 3), get(rows, r * 6 + 4), get(rows, r * 6 + 5))
                            let out = base + (i * 4 + r) * line + j * 4 * f + k
                            @inline(__always) func emit(_ s: Int, _ value: SIMD8<Float>) {
                                guard s < width else { return }
                                var z = value + b
                                if relu { z.replace(with: 0, where: z .< 0) }   // as Activation.relu
                                if argmax == nil { store(z, out + s * f, lanes) } else { put(rows, 24 + r * 4 + s, z) }
                            }
                            emit(0, o.0); emit(1, o.1); emit(2, o.2); emit(3, o.3)
                        }
                        if let argmax {
                            // The tile's 2×2 windows: maximum in scan order, strict (ties keep the first).
                            for wr in 0..<2 where i * 2 + wr < ph {
                                for wc in 0..<2 where j * 2 + wc < pw {
                                    let z0 = 24 + wr * 8 + wc * 2
                                    var best = get(rows, z0), taken = SIMD8<Int32>(repeating: 0)
                                    keepLarger(&best, &taken, get(rows, z0 + 1), 1)
                                    keepLarger(&best, &taken, get(rows, z0 + 4), 2)
                                    keepLarger(&best, &taken, get(rows, z0 + 5), 3)
                                    let at = ((i * 2 + wr) * pw + j * 2 + wc) * f + k
                                    store(best, base + at, lanes)
                                    let a = argmax + image * ph * pw * f + at
                                    if lanes == 8 {
                                        UnsafeMutableRawPointer(a).storeBytes(of: taken, as: SIMD8<Int32>.self)
                                    } else {
                                        for l in 0..<lanes { a[l] = taken[l] }
                                    }
                                }
                            }
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// dM (36, T, F) = A dZ Aᵀ for every tile, dZ = dy ⊙ f'(y) (zero beyond the output's edge);
    /// biasSums (F) += Σ dZ, in tile order.
    /// With `argmax`, dy and y are pooled: dZ is dy at each window's maximum (where y > 0 with
    /// `relu`) and 0 elsewhere.
    func transformOutputGradient(_ dy: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>?, relu: Bool,
                                 argmax: UnsafeMutablePointer<Int32>?, images: Int,
                                 into dm: UnsafeMutablePointer<Float>, biasSums: UnsafeMutablePointer<Float>,
                                 work: UnsafeMutablePointer<Float>) {
        if tile == 5 {
            ck_wino5_output_pool_gradient(dy, y, relu ? 1 : 0, argmax!, Int32(images), Int32(outHeight),
                                          Int32(outWidth), Int32(filters), Int32(tilesH), Int32(tilesW), dm, biasSums)
            return
        }
        if avx2 {
            ck_winograd_output_gradient(dy, y, relu ? 1 : 0, argmax, Int32(images), Int32(outHeight), Int32(outWidth),
                                        Int32(filters), Int32(tilesH), Int32(tilesW), dm, biasSums)
            return
        }
        let f = filters, t = images * tilesPerImage, line = outWidth * f, step = t * f
        let ph = outHeight / 2, pw = outWidth / 2
        let cols = UnsafeMutableRawPointer(work)      // dZ Aᵀ, 4 × 6 vectors; the pooled case's dZ after them
        var tile = 0
        for image in 0..<images {
            let base = image * (argmax == nil ? outHeight * line : ph * pw * f)
            for i in 0..<tilesH {
                let height = min(4, outHeight - i * 4)
                for j in 0..<tilesW {
                    let width = min(4, outWidth - j * 4)
                    for k in stride(from: 0, to: f, by: 8) {
                        let lanes = min(8, f - k)
                        var sum = load(biasSums + k, lanes)
                        // dZ of the tile's 16 positions, after the cols' 24 vectors in the work area.
                        if let argmax {
                            // From the tile's 2×2 windows' gradients.
                            for index in 24..<40 { put(cols, index, .zero) }
                            for wr in 0..<2 where i * 2 + wr < ph {
                                for wc in 0..<2 where j * 2 + wc < pw {
                                    let at = base + ((i * 2 + wr) * pw + j * 2 + wc) * f + k
                                    let raw = load(dy + at, lanes)
                                    let g = relu ? raw.replacing(with: 0, where: .!(load(y! + at, lanes) .> 0)) : raw
                                    sum += g
                                    let taken = loadInt32(argmax + at, lanes)
                                    let z0 = 24 + wr * 8 + wc * 2
                                    put(cols, z0, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 0)))
                                    put(cols, z0 + 1, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 1)))
                                    put(cols, z0 + 4, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 2)))
                                    put(cols, z0 + 5, SIMD8<Float>.zero.replacing(with: g, where: taken .== SIMD8<Int32>(repeating: 3)))
                                }
                            }
                        } else {
                            for r in 0..<4 {
                                for s in 0..<4 {
                                    guard r < height && s < width else {
                                        put(cols, 24 + r * 4 + s, .zero)
                                        continue
                                    }
                                    let at = base + (i * 4 + r) * line + (j * 4 + s) * f + k
                                    let raw = load(dy + at, lanes)
                                    let d = relu ? raw.replacing(with: 0, where: .!(load(y! + at, lanes) .> 0)) : raw
                                    sum += d
                                    put(cols, 24 + r * 4 + s, d)
                                }
                            }
                        }
                        // cols[r][·] = A · dZ[r][·] over s (4 → 6).
                        for r in 0..<4 {
                            let o = outputAdjoint(get(cols, 24 + r * 4), get(cols, 25 + r * 4), get(cols, 26 + r * 4),
                                                  get(cols, 27 + r * 4))
                            put(cols, r * 6, o.0); put(cols, r * 6 + 1, o.1); put(cols, r * 6 + 2, o.2)
                            put(cols, r * 6 + 3, o.3); put(cols, r * 6 + 4, o.4); put(cols, r * 6 + 5, o.5)
                        }
                        store(sum, biasSums + k, lanes)
                        // dM[·][s] = A · cols[·][s] over r (4 → 6), to positions ξ = 6r + s.
                        let out = dm + tile * f + k
                        for s in 0..<6 {
                            let o = outputAdjoint(get(cols, s), get(cols, 6 + s), get(cols, 12 + s), get(cols, 18 + s))
                            let column = out + s * step
                            store(o.0, column, lanes); store(o.1, column + 6 * step, lanes)
                            store(o.2, column + 12 * step, lanes); store(o.3, column + 18 * step, lanes)
                            store(o.4, column + 24 * step, lanes); store(o.5, column + 30 * step, lanes)
                        }
                    }
                    tile += 1
                }
            }
        }
    }

    /// dx = Σ_tiles B dV Bᵀ (overlapping tiles added in tile order) for `images` images at dx,
    /// which is overwritten; dV (36, T, C).
    func transformInputGradient(_ dv: UnsafeMutablePointer<Float>, images: Int, into dx: UnsafeMutablePointer<Float>,
                                work: UnsafeMutablePointer<Float>) {
        if tile == 5 {
            ck_wino5_input_gradient(dv, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad),
                                    Int32(tilesH), Int32(tilesW), dx)
            return
        }
        if avx2 {
            ck_winograd_input_gradient(dv, Int32(images), Int32(height), Int32(width), Int32(channels), Int32(pad),
                                       Int32(tilesH), Int32(tilesW), dx)
            return
        }
        let c = channels, t = images * tilesPerImage, line = width * c, step = t * c
        let rows = UnsafeMutableRawPointer(work)      // dV Bᵀ, 6 × 6 vectors
        dx.update(repeating: 0, count: images * height * line)
        var tile = 0
        for image in 0..<images {
            let base = dx + image * height * line
            for i in 0..<tilesH {
                let top = i * 4 - pad, rr = Self.inside(top, height)
                for j in 0..<tilesW {
                    let left = j * 4 - pad, cr = Self.inside(left, width)
                    for k in stride(from: 0, to: c, by: 8) {
                        let lanes = min(8, c - k)
                        // rows[r][·] = B · dV[r][·] over s.
                        let dt = dv + tile * c + k
                        for r in 0..<6 {
                            let at = dt + r * 6 * step
                            let o = inputAdjoint(load(at, lanes), load(at + step, lanes), load(at + 2 * step, lanes),
                                                 load(at + 3 * step, lanes), load(at + 4 * step, lanes),
                                                 load(at + 5 * step, lanes))
                            put(rows, r * 6, o.0); put(rows, r * 6 + 1, o.1); put(rows, r * 6 + 2, o.2)
                            put(rows, r * 6 + 3, o.3); put(rows, r * 6 + 4, o.4); put(rows, r * 6 + 5, o.5)
                        }
                        // d[·][s] = B · rows[·][s] over r, added into dx where inside the image.
                        let corner = base + top * line + left * c + k
                        for s in cr {
                            let o = inputAdjoint(get(rows, s), get(rows, 6 + s), get(rows, 12 + s), get(rows, 18 + s),
                                                 get(rows, 24 + s), get(rows, 30 + s))
                            @inline(__always) func add(_ r: Int, _ value: SIMD8<Float>) {
                                guard rr.contains(r) else { return }
                                let at = corner + r * line + s * c
                                store(load(at, lanes) + value, at, lanes)
                            }
                            add(0, o.0); add(1, o.1); add(2, o.2); add(3, o.3); add(4, o.4); add(5, o.5)
                        }
                    }
                    tile += 1
                }
            }
        }
    }
}

extension Winograd3x3 {
    /// C (m×n) = op(A) · B, or C += op(A) · B with `accumulate`, by the AVX2/FMA kernels of the
    /// products (winograd_gemm.c), row-major; op(A) is m×k (A is k×m with `transA`), B is k×n. Each
    /// element is a sum over k, one FMA per term in k order, then added to C's value with
    /// `accumulate`. Exposed for the tests.
    public static func product(transA: Bool = false, m: Int, n: Int, k: Int, a: FloatView, lda: Int,
                               b: FloatView, ldb: Int, accumulate: Bool, c: FloatView, ldc: Int) {
        precondition(avx2Available, "AVX2/FMA products asked for on a CPU without them")
        precondition(m > 0 && n > 0 && k > 0)
        precondition(a.count >= (transA ? (k - 1) * lda + m : (m - 1) * lda + k), "A too small")
        precondition(b.count >= (k - 1) * ldb + n && c.count >= (m - 1) * ldc + n, "B or C too small")
        (transA ? ck_wgemm_tn : ck_wgemm_nn)(Int32(m), Int32(n), Int32(k), a.base, Int32(lda), b.base, Int32(ldb),
                                             c.base, Int32(ldc), accumulate ? 1 : 0)
    }
}

/// Single-threaded C (m×n) = op(A) · op(B), row-major, on raw pointers (the caller splits the work).
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           a: UnsafeMutablePointer<Float>, lda: Int, b: UnsafeMutablePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    BLAS.configure()
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

// MARK: - Vectors of 8 channels

/// `lanes` (≤ 8) floats at p, zero-filled.
@inline(__always)
private func load(_ p: UnsafeMutablePointer<Float>, _ lanes: Int) -> SIMD8<Float> {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    var v = SIMD8<Float>()
    for i in 0..<lanes { v[i] = p[i] }
    return v
}

/// The first `lanes` (≤ 8) lanes of v to p.
@inline(__always)
private func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == 8 {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
        return
    }
    for i in 0..<lanes { p[i] = v[i] }
}

/// `lanes` (≤ 8) Int32s at p; the missing lanes are −1.
@inline(__always)
private func loadInt32(_ p: UnsafeMutablePointer<Int32>, _ lanes: Int) -> SIMD8<Int32> {
    if lanes == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Int32>.self) }
    var v = SIMD8<Int32>(repeating: -1)
    for i in 0..<lanes { v[i] = p[i] }
    return v
}

/// One step of a max-pooling scan: where v > best (strict, so ties keep the earlier element),
/// best = v and taken = q.
@inline(__always)
func keepLarger(_ best: inout SIMD8<Float>, _ taken: inout SIMD8<Int32>, _ v: SIMD8<Float>, _ q: Int32) {
    let larger = v .> best
    best.replace(with: v, where: larger)
    taken.replace(with: SIMD8(repeating: q), where: larger)
}

/// Vector `index` of a work area of vectors.
@inline(__always)
private func put(_ work: UnsafeMutableRawPointer, _ index: Int, _ v: SIMD8<Float>) {
    work.storeBytes(of: v, toByteOffset: index * 32, as: SIMD8<Float>.self)
}

@inline(__always)
private func get(_ work: UnsafeMutableRawPointer, _ index: Int) -> SIMD8<Float> {
    work.loadUnaligned(fromByteOffset: index * 32, as: SIMD8<Float>.self)
}

// MARK: - The 1-D transforms (with their common subexpressions shared)

typealias Six = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
typealias Four = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

/// Bᵀ d:  (4a − 5c + e, −4b − 4c + d + e, 4b − 4c − d + e, −2b − c + 2d + e, 2b − c − 2d + e, 4b − 5d + f)
@inline(__always)
private func inputTransform(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>,
                            _ e: SIMD8<Float>, _ f: SIMD8<Float>) -> Six {
    let ec = e - c, twice = 2 * (d - b)
    return (4 * (a - c) + ec, (d + e) - 4 * (b + c), (e - d) + 4 * (b - c), ec + twice, ec - twice,
            4 * (b - d) + (f - d))
}

/// B g, the adjoint of `inputTransform`:
/// (4a, −4b + 4c − 2d + 2e + 4f, −5a − 4b − 4c − d − e, b − c + 2d − 2e − 5f, a + b + c + d + e, f)
@inline(__always)
private func inputAdjoint(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>,
                          _ e: SIMD8<Float>, _ f: SIMD8<Float>) -> Six {
    let p = b + c, q = d + e, m = c - b, n = e - d
    return (4 * a, 4 * (m + f) + 2 * n, -(4 * (p + a) + (q + a)), -(m + 2 * n + 5 * f), a + p + q, f)
}

/// Aᵀ m (4 from 6):  (a + b + c + d + e, b − c + 2d − 2e, b + c + 4d + 4e, b − c + 8d − 8e + f)
@inline(__always)
private func outputTransform(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>,
                             _ e: SIMD8<Float>, _ f: SIMD8<Float>) -> Four {
    let p = b + c, q = d + e, r = b - c, s = d - e
    return (a + p + q, r + 2 * s, p + 4 * q, r + 8 * s + f)
}

/// A g (6 from 4), the adjoint of `outputTransform`: (a, a + b + c + d, a − b + c − d,
/// a + 2b + 4c + 8d, a − 2b + 4c − 8d, d)
@inline(__always)
private func outputAdjoint(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> Six {
    let p = a + c, q = b + d, r = a + 4 * c, s = 2 * (b + 4 * d)
    return (a, p + q, p - q, r + s, r - s, d)
}

/// G g for one 3-vector (G is 6×3): (g0/4, −(g0 + g1 + g2)/6, −(g0 − g1 + g2)/6,
/// g0/24 + g1/12 + g2/6, g0/24 − g1/12 + g2/6, g2).
@inline(__always)
private func kernelColumn(_ g0: SIMD8<Float>, _ g1: SIMD8<Float>, _ g2: SIMD8<Float>) -> Six {
    let sum: SIMD8<Float> = g0 + g2
    let a: SIMD8<Float> = g0 / 24 + g2 / 6, b: SIMD8<Float> = g1 / 12
    let u1: SIMD8<Float> = -(sum + g1) / 6, u2: SIMD8<Float> = -(sum - g1) / 6
    return (g0 / 4, u1, u2, a + b, a - b, g2)
}

/// Gᵀ d for one 6-vector, the adjoint of `kernelColumn`.
@inline(__always)
private func kernelAdjoint(_ d0: SIMD8<Float>, _ d1: SIMD8<Float>, _ d2: SIMD8<Float>, _ d3: SIMD8<Float>,
                           _ d4: SIMD8<Float>, _ d5: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
    let p: SIMD8<Float> = d1 + d2, q: SIMD8<Float> = d3 + d4
    let m: SIMD8<Float> = d2 - d1, n: SIMD8<Float> = d3 - d4
    let g0: SIMD8<Float> = d0 / 4 - p / 6 + q / 24
    let g1: SIMD8<Float> = m / 6 + n / 12
    let g2: SIMD8<Float> = (q - p) / 6 + d5
    return (g0, g1, g2)
}
