// Winograd F(4×4, 3×3), F(5×5, 3×3) and F(4×4, 5×5) against the direct definition of convolution
// and of its two gradients.
import Kernels
import Testing

@Suite("Winograd 3×3 convolution")
struct WinogradTests {
    struct Case: CustomStringConvertible, Sendable {
        let n: Int, h: Int, w: Int, c: Int, f: Int, same: Bool
        /// The kernel's size: 3, or 5 (F(4×4, 5×5), pooled only).
        var k = 3
        /// 1, or 2 (3×3, unpooled, AVX2 only).
        var stride = 1
        /// At stride 2, the tile (4 or 7); nil: the one the convolution picks.
        var tile: Int? = nil
        var description: String {
            "\(n)×\(h)×\(w)×\(c) → \(f) \(k)×\(k)" + (stride == 1 ? "" : " stride \(stride)")
                + (same ? " same" : " valid")
                + (tile.map { ", \($0)×\($0) tiles" } ?? "")
        }
    }

    /// Direct convolution and its gradients, in Double.
    func direct(_ x: [Float], _ k: [Float], _ dy: [Float], _ s: Case, _ g: WinogradConvolution)
        -> (y: [Double], dx: [Double], dk: [Double]) {
        var y = [Double](repeating: 0, count: s.n * g.outHeight * g.outWidth * s.f)
        var dx = [Double](repeating: 0, count: x.count), dk = [Double](repeating: 0, count: k.count)
        for n in 0..<s.n {
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for r in 0..<g.kernelSize {
                        for q in 0..<g.kernelSize {
                            let iy = oy * g.stride + r - g.pad, ix = ox * g.stride + q - g.pad
                            if iy < 0 || iy >= s.h || ix < 0 || ix >= s.w { continue }
                            for c in 0..<s.c {
                                let xi = ((n * s.h + iy) * s.w + ix) * s.c + c
                                for f in 0..<s.f {
                                    let ki = ((r * g.kernelSize + q) * s.c + c) * s.f + f
                                    let yi = ((n * g.outHeight + oy) * g.outWidth + ox) * s.f + f
                                    y[yi] += Double(x[xi]) * Double(k[ki])
                                    dx[xi] += Double(dy[yi]) * Double(k[ki])
                                    dk[ki] += Double(x[xi]) * Double(dy[yi])
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, dx, dk)
    }

    func run(_ x: [Float], _ k: [Float], _ dy: [Float], _ s: Case, _ g: WinogradConvolution, threads: Int)
        -> (y: [Float], dx: [Float], dk: [Float]) {
        let pool = ThreadPool(threadCount: threads)
        let xs = FloatStorage(x), ks = FloatStorage(k), dys = FloatStorage(dy)
        let u = FloatStorage(count: g.kernelTransformCount), ut = FloatStorage(count: g.kernelTransformCount)
        let scratch = FloatStorage(count: g.scratchCount(images: s.n))
        let y = FloatStorage(count: s.n * g.outHeight * g.outWidth * s.f)
        let dx = FloatStorage(count: x.count), dk = FloatStorage(count: k.count)
        g.forward(xs.view, kernel: ks.view, images: s.n, u: u.view, scratch: scratch.view,
                  into: y.view, pool: pool)
        g.backward(dys.view, x: xs.view, images: s.n, u: u.view, scratch: scratch.view, ut: ut.view,
                   dKernel: dk.view, dx: dx.view, pool: pool)
        return (y.array, dx.array, dk.array)
    }

    @Test("forward, input gradient and kernel gradient equal the direct computation", arguments: [
        Case(n: 2, h: 13, w: 13, c: 3, f: 5, same: false),
        Case(n: 1, h: 9, w: 7, c: 2, f: 4, same: true),
        Case(n: 3, h: 6, w: 6, c: 1, f: 2, same: false),
        Case(n: 2, h: 14, w: 14, c: 8, f: 16, same: true),
        Case(n: 70, h: 5, w: 5, c: 2, f: 3, same: false),     // three groups of images, the last partial
    ])
    func matchesDirect(_ s: Case) {
        let g = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same)
        var stream = RandomStream(seed: 4, name: "winograd")
        let x = (0..<s.n * s.h * s.w * s.c).map { _ in stream.nextNormal() }
        let k = (0..<9 * s.c * s.f).map { _ in stream.nextNormal() * 0.3 }
        let dy = (0..<s.n * g.outHeight * g.outWidth * s.f).map { _ in stream.nextNormal() }
        let expected = direct(x, k, dy, s, g)
        let got = run(x, k, dy, s, g, threads: 2)
        #expect(worstRelative(got.y, expected.y) < 1e-4)
        #expect(worstRelative(got.dx, expected.dx) < 1e-4)
        #expect(worstRelative(got.dk, expected.dk) < 1e-4)
        let single = run(x, k, dy, s, g, threads: 1)
        #expect(single.y == got.y && single.dx == got.dx && single.dk == got.dk)
    }

    /// Forward (with bias and ReLU, pooled or not) and backward of `g`, outputs as arrays.
    /// With `clobber`, the scratch is filled with NaN between the passes.
    /// With `input`, x is that instead of drawn; with `normalization`, the passes apply it to x.
    func runFull(_ g: WinogradConvolution, n: Int, pooled: Bool, seed: UInt64, threads: Int = 2,
                 clobber: Bool = false, input: FloatStorage? = nil, normalization: InputNormalization? = nil)
        -> (y: [Float], argmax: [Float], dx: [Float], dk: [Float], db: [Float]) {
        var stream = RandomStream(seed: seed, name: "winograd-avx2")
        let outCount = n * (pooled ? g.pooledPerImage : g.outHeight * g.outWidth * g.filters)
        let drawn = FloatStorage((0..<n * g.height * g.width * g.channels).map { _ in stream.nextNormal() })
        let x = input ?? drawn
        let taps = g.kernelSize * g.kernelSize
        let k = FloatStorage((0..<taps * g.channels * g.filters).map { _ in stream.nextNormal() * 0.3 })
        let b = FloatStorage((0..<g.filters).map { _ in stream.nextNormal() * 0.1 })
        let dy = FloatStorage((0..<outCount).map { _ in stream.nextNormal() })
        let u = FloatStorage(count: g.kernelTransformCount), ut = FloatStorage(count: g.kernelTransformCount)
        let scratch = FloatStorage(count: g.scratchCount(images: n))
        let y = FloatStorage(count: outCount), argmax = FloatStorage(count: pooled ? outCount : 0)
        let dx = FloatStorage(count: n * g.height * g.width * g.channels)
        let dk = FloatStorage(count: g.kernelSize * g.kernelSize * g.channels * g.filters)
        let db = FloatStorage(count: g.filters)
        let pool = ThreadPool(threadCount: threads)
        g.forward(x.view, kernel: k.view, bias: b.view, relu: true, images: n, u: u.view,
                  scratch: scratch.view, into: y.view, poolArgmax: pooled ? argmax.view : nil,
                  inputNormalization: normalization, pool: pool)
        if clobber { scratch.view.fill(.nan) }
        g.backward(dy.view, x: x.view, y: y.view, relu: true, images: n, u: u.view, scratch: scratch.view,
                   ut: ut.view, dKernel: dk.view, biasGradient: db.view, dx: dx.view,
                   poolArgmax: pooled ? argmax.view : nil, inputNormalization: normalization, pool: pool)
        return (y.array, argmax.array, dx.array, dk.array, db.array)
    }

    typealias FullRun = (y: [Float], argmax: [Float], dx: [Float], dk: [Float], db: [Float])

    /// Two runs of runFull agree: y, dx, dK and db within these relative tolerances and, with
    /// `argmax`, at most one pooled window in a thousand taking another element (rounding can only
    /// reorder elements whose values are within rounding of each other).
    func expectAgree(_ a: FullRun, _ b: FullRun, y: Float, dx: Float, dk: Float, db: Float, argmax: Bool = true,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(worstRelative(a.y, b.y) < y, sourceLocation: sourceLocation)
        #expect(worstRelative(a.dx, b.dx) < dx, sourceLocation: sourceLocation)
        #expect(worstRelative(a.dk, b.dk) < dk, sourceLocation: sourceLocation)
        #expect(worstRelative(a.db, b.db) < db, sourceLocation: sourceLocation)
        if argmax {
            let differing = zip(a.argmax, b.argmax).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing * 1000 <= a.argmax.count, sourceLocation: sourceLocation)
        }
    }

    @Test("the AVX2/FMA tile transforms agree with the portable ones",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"), arguments: [
        Case(n: 5, h: 13, w: 13, c: 32, f: 64, same: false),   // cnn.yaml's second layer
        Case(n: 3, h: 11, w: 9, c: 3, f: 5, same: true),        // partial vectors, edge tiles
        Case(n: 2, h: 8, w: 8, c: 12, f: 20, same: false),
    ])
    func avx2MatchesPortable(_ s: Case) {
        for pooled in [false, true] {
            // OpenBLAS products on both sides: this compares the transforms alone.
            let fast = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same, avx2: true,
                                   avx2Products: false)
            let portable = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same, avx2: false)
            expectAgree(runFull(fast, n: s.n, pooled: pooled, seed: 9), runFull(portable, n: s.n, pooled: pooled, seed: 9),
                        y: 1e-5, dx: 1e-5, dk: 1e-4, db: 1e-5)
        }
    }

    @Test("the AVX-512 build of the C transforms gives the AVX2 build's bits",
          .enabled(if: VectorCode.avx512.isAvailable, "this CPU has no AVX-512"), arguments: [
        Case(n: 5, h: 13, w: 13, c: 32, f: 64, same: false),   // cnn.yaml's second layer: whole vectors
        Case(n: 3, h: 11, w: 9, c: 3, f: 5, same: true),        // one partial vector, edge tiles
        Case(n: 37, h: 12, w: 12, c: 20, f: 33, same: false),   // a full and a partial vector; two groups
        Case(n: 2, h: 26, w: 26, c: 17, f: 24, same: true),     // PyTorch's example's second layer's size
    ])
    func wideMatchesNarrow(_ s: Case) {
        for (pooled, tile, k) in [(false, 4, 3), (true, 4, 3), (true, 5, 3), (true, 4, 5)] {
            let wide = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, kernelSize: k,
                                           same: s.same, pooled: pooled, tile: tile)
            let narrow = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, kernelSize: k,
                                             same: s.same, pooled: pooled, tile: tile, wide: false)
            #expect(wide.wide && !narrow.wide && wide.tile == tile)
            let a = runFull(wide, n: s.n, pooled: pooled, seed: 13), b = runFull(narrow, n: s.n, pooled: pooled, seed: 13)
            for (name, p, q) in [("y", a.y, b.y), ("argmax", a.argmax, b.argmax), ("dx", a.dx, b.dx),
                                 ("dk", a.dk, b.dk), ("db", a.db, b.db)] {
                let differing = zip(p, q).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(p.count == q.count && differing == 0,
                        "F(\(tile)×\(tile), \(k)×\(k)), pooled: \(pooled): \(differing) of \(p.count) elements of \(name) differ")
            }
        }
    }

    @Test("the backward pass needs nothing of the forward's scratch: V is computed again from x",
          arguments: [
        Case(n: 37, h: 12, w: 12, c: 20, f: 33, same: false),   // two groups, several blocks each
        Case(n: 3, h: 11, w: 9, c: 3, f: 5, same: true),
    ])
    func backwardRecomputesV(_ s: Case) {
        var shapes = [(false, 4, 3, false)]
        if WinogradConvolution.avx2Available { shapes += [(false, 4, 3, true), (true, 4, 3, true), (true, 5, 3, true),
                                                          (true, 4, 5, true)] }
        for (pooled, tile, k, avx2) in shapes {
            let g = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, kernelSize: k,
                                        same: s.same, avx2: avx2, pooled: pooled, tile: tile)
            let kept = runFull(g, n: s.n, pooled: pooled, seed: 17)
            let clobbered = runFull(g, n: s.n, pooled: pooled, seed: 17, clobber: true)
            #expect(kept.dx == clobbered.dx && kept.dk == clobbered.dk && kept.db == clobbered.db,
                    "F(\(tile)×\(tile), \(k)×\(k)), pooled: \(pooled), AVX2: \(avx2)")
            #expect(!kept.dk.contains { $0.isNaN } && kept.dk.contains { $0 != 0 })
        }
        // A batch's scratch holds one block of V per group, not every image's.
        let g = WinogradConvolution(height: 26, width: 26, channels: 32, filters: 32, same: false)
        #expect(g.scratchCount(images: 128) < 128 * g.inputTransformPerImage / 4)
    }

    @Test("a batch normalization the passes apply as they read x gives the bits of its output read from memory",
          .enabled(if: VectorCode.avx512.isAvailable, "the normalization's pass is an AVX-512 one"), arguments: [
        Case(n: 37, h: 12, w: 12, c: 20, f: 33, same: false),   // two groups, several blocks each
        Case(n: 3, h: 11, w: 9, c: 3, f: 5, same: true),        // the padding's zeros stay zeros
    ])
    func normalizedInput(_ s: Case) {
        var stream = RandomStream(seed: 23, name: "winograd normalized input")
        let rows = s.n * s.h * s.w
        let x = FloatStorage((0..<rows * s.c).map { _ in stream.nextNormal() * 2 + 0.5 })
        let gamma = FloatStorage((0..<s.c).map { _ in stream.nextNormal() })
        let beta = FloatStorage((0..<s.c).map { _ in stream.nextNormal() })
        for relu in [false, true] {
            // The normalization's forward: its output in memory, and the μ, k, β it leaves.
            let normalized = FloatStorage(count: rows * s.c), state = FloatStorage(count: BatchNormScratch.count(channels: s.c))
            let scratch = BatchNormScratch(state.view, channels: s.c)
            let mean = FloatStorage(count: s.c), variance = FloatStorage((0..<s.c).map { _ in 1 })
            batchNormTrainingForward(x: x.view, y: normalized.view, rows: rows, channels: s.c, epsilon: 1e-3,
                                     momentum: 0.9, gamma: gamma.view, beta: beta.view, movingMean: mean.view,
                                     movingVariance: variance.view, scratch: scratch, relu: relu)
            let applied = InputNormalization(scratch: scratch, channels: s.c, relu: relu)
            for (pooled, tile, k, stride) in [(false, 4, 3, 1), (true, 4, 3, 1), (true, 5, 3, 1), (true, 4, 5, 1),
                                              (false, 4, 3, 2)] {
                let g = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, kernelSize: k,
                                            stride: stride, same: s.same, pooled: pooled, tile: tile)
                var h = g
                h.normalizesInput = true
                #expect(h.scratchCount(images: s.n) > g.scratchCount(images: s.n))
                let a = runFull(g, n: s.n, pooled: pooled, seed: 29, input: normalized)
                let b = runFull(h, n: s.n, pooled: pooled, seed: 29, input: x, normalization: applied)
                for (name, p, q) in [("y", a.y, b.y), ("argmax", a.argmax, b.argmax), ("dx", a.dx, b.dx),
                                     ("dk", a.dk, b.dk), ("db", a.db, b.db)] {
                    let shape = "F(\(tile)×\(tile), \(k)×\(k)), stride \(stride)"
                    #expect(p.map(\.bitPattern) == q.map(\.bitPattern), "\(shape), pooled: \(pooled), ReLU: \(relu): \(name)")
                }
                #expect(a.dk.contains { $0 != 0 })
            }
        }
    }

    @Test("the AVX2/FMA products are as accurate as OpenBLAS's and agree with them",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"), arguments: [
        Case(n: 5, h: 13, w: 13, c: 32, f: 64, same: false),   // cnn.yaml's second layer
        Case(n: 3, h: 11, w: 9, c: 3, f: 5, same: true),        // masked columns, partial tiles of rows
        Case(n: 37, h: 8, w: 8, c: 12, f: 20, same: false),     // two groups, an odd block at the end
    ])
    func avx2ProductsMatchBLAS(_ s: Case) {
        // Both use the AVX2 tile transforms; only the 36 products differ.
        let ours = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same, avx2: true)
        let blas = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same, avx2: true,
                               avx2Products: false)
        #expect(ours.avx2Products && !blas.avx2Products)
        var stream = RandomStream(seed: 6, name: "winograd-products")
        let x = (0..<s.n * s.h * s.w * s.c).map { _ in stream.nextNormal() }
        let k = (0..<9 * s.c * s.f).map { _ in stream.nextNormal() * 0.3 }
        let dy = (0..<s.n * ours.outHeight * ours.outWidth * s.f).map { _ in stream.nextNormal() }
        let expected = direct(x, k, dy, s, ours)
        let a = run(x, k, dy, s, ours, threads: 2), b = run(x, k, dy, s, blas, threads: 2)
        func rms(_ e: [Double]) -> Double { (e.map { $0 * $0 }.reduce(0, +) / Double(max(1, e.count))).squareRoot() }
        // Winograd's transforms amplify rounding (coefficients up to 8 in each direction), so two
        // summation orders differ by more than a plain product's would: what matters is that ours
        // are about as close to the exact result as OpenBLAS's (whose largest error on cnn.yaml's
        // shape is 1.5e-4 of dk). OpenBLAS's own kernels differ here: on cnn.yaml's shape the RMS
        // error of dx is 3.6e-6 with its Haswell kernel and 2.2e-6 with its Cooperlake one (the
        // one it picks on this Zen 4 machine without OPENBLAS_CORETYPE); ours, 4.0e-6, sums each
        // element in one FMA chain, as the Haswell kernel does. Hence the factor 2.
        for (p, q, e) in [(a.y, b.y, expected.y), (a.dx, b.dx, expected.dx), (a.dk, b.dk, expected.dk)] {
            let ourErrors = relativeErrors(p, e), blasErrors = relativeErrors(q, e)
            #expect(ourErrors.max()! < 3e-4)
            #expect(rms(ourErrors) < 1e-5)
            #expect(rms(ourErrors) <= 2 * rms(blasErrors), "RMS \(rms(ourErrors)) vs OpenBLAS's \(rms(blasErrors))")
        }
        // The fused path (bias, ReLU, pooling) through both products.
        for pooled in [false, true] {
            expectAgree(runFull(ours, n: s.n, pooled: pooled, seed: 5), runFull(blas, n: s.n, pooled: pooled, seed: 5),
                        y: 2e-4, dx: 2e-4, dk: 5e-4, db: 1e-5)
        }
        // F(5×5, 3×3), where it applies (pooled layers), through both products.
        let five = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same, avx2: true,
                               pooled: true)
        let fiveBLAS = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same, avx2: true,
                                   avx2Products: false, pooled: true)
        if five.tile == 5 {
            expectAgree(runFull(five, n: s.n, pooled: true, seed: 5), runFull(fiveBLAS, n: s.n, pooled: true, seed: 5),
                        y: 2e-4, dx: 2e-4, dk: 5e-4, db: 1e-5, argmax: false)
        }
    }

    @Test("F(5×5, 3×3) and F(4×4, 5×5) with pooling equal the direct computation, pooled in Double",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"), arguments: [
        Case(n: 5, h: 13, w: 13, c: 32, f: 64, same: false),   // cnn.yaml's second layer
        Case(n: 3, h: 11, w: 9, c: 3, f: 5, same: true),        // partial vectors, edge tiles past the input
        Case(n: 2, h: 12, w: 12, c: 12, f: 20, same: false),
        Case(n: 70, h: 7, w: 7, c: 2, f: 3, same: false),      // three groups of images, one tile each
        Case(n: 5, h: 12, w: 12, c: 20, f: 50, same: false, k: 5),   // Caffe's LeNet's second layer
        Case(n: 3, h: 11, w: 9, c: 3, f: 5, same: true, k: 5),        // partial vectors, tiles past the input
        Case(n: 2, h: 15, w: 10, c: 17, f: 33, same: false, k: 5),    // odd output rows: the last one unread
        Case(n: 70, h: 9, w: 8, c: 2, f: 3, same: false, k: 5),      // three groups of images, one tile each
    ])
    func pooledMatchesDirect(_ s: Case) {
        let g = WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, kernelSize: s.k,
                                    same: s.same, pooled: true)
        #expect(s.k == 3 ? g.tile == 5 && g.positions == 49 : g.tile == 4 && g.positions == 64)
        if s.k == 3 {
            #expect(WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, same: s.same).tile == 4)
        }
        let got = runFull(g, n: s.n, pooled: true, seed: 21)
        // The same inputs as runFull draws, in Double.
        var stream = RandomStream(seed: 21, name: "winograd-avx2")
        let n = s.n, outCount = n * g.pooledPerImage
        let x = (0..<n * s.h * s.w * s.c).map { _ in stream.nextNormal() }
        let k = (0..<s.k * s.k * s.c * s.f).map { _ in stream.nextNormal() * 0.3 }
        let b = (0..<s.f).map { _ in stream.nextNormal() * 0.1 }
        let dy = (0..<outCount).map { _ in stream.nextNormal() }
        let z = direct(x, k, [Float](repeating: 0, count: n * g.outHeight * g.outWidth * s.f), s, g).y
        let ph = g.outHeight / 2, pw = g.outWidth / 2
        // Pooled forward in Double; the backward routes dy through the run's own argmax (ties
        // within rounding may pick another element of a window) and checks dx, dK, db.
        var dz = [Double](repeating: 0, count: z.count), db = [Double](repeating: 0, count: s.f)
        var worstY = 0.0, argmaxDiffers = 0
        for image in 0..<n {
            for i in 0..<ph {
                for j in 0..<pw {
                    for f in 0..<s.f {
                        func at(_ p: Int) -> Int { ((image * g.outHeight + 2 * i + p / 2) * g.outWidth + 2 * j + p % 2) * s.f + f }
                        let values = (0..<4).map { max(0, z[at($0)] + Double(b[f])) }
                        var best = 0
                        for p in 1..<4 where values[p] > values[best] { best = p }
                        let o = ((image * ph + i) * pw + j) * s.f + f
                        worstY = max(worstY, abs(Double(got.y[o]) - values[best]) / max(1, abs(values[best])))
                        let taken = Int(got.argmax[o].bitPattern)
                        if taken != best { argmaxDiffers += 1 }
                        if got.y[o] > 0 {
                            dz[at(taken)] = Double(dy[o])
                            db[f] += Double(dy[o])
                        }
                    }
                }
            }
        }
        #expect(worstY < 1e-4)
        #expect(argmaxDiffers * 1000 <= outCount)
        let expected = direct(x, k, dz.map { Float($0) }, s, g)
        // Errors relative to the largest magnitude (Winograd's error grows with the tile: F(5×5)'s
        // and F(4×4, 5×5)'s are about twice F(4×4, 3×3)'s, ≈1e-4 of the largest kernel-gradient
        // element here).
        #expect(worstScaled(got.dx, expected.dx) < 2e-5)
        #expect(worstScaled(got.dk, expected.dk) < 2e-5)
        #expect(worstScaled(got.db, db) < 1e-5)
        #expect(got.dk.contains { $0 != 0 } && got.dx.contains { $0 != 0 })
        // Thread counts: the same bits.
        let g1 = runFull(g, n: s.n, pooled: true, seed: 21, threads: 1)
        #expect(g1.y == got.y && g1.dx == got.dx && g1.dk == got.dk && g1.db == got.db)
    }
}

/// The stride-2 transforms (3×3, unpooled, AVX2/FMA CPUs).
extension WinogradTests {
    static let stride2Cases = [
        Case(n: 3, h: 14, w: 14, c: 32, f: 64, same: true, stride: 2),   // the strided network's second layer (7×7)
        Case(n: 3, h: 14, w: 14, c: 32, f: 64, same: true, stride: 2, tile: 4),   // the same in four 4×4 tiles
        Case(n: 5, h: 7, w: 7, c: 64, f: 128, same: true, stride: 2),    // its third: one 4×4 tile an image
        Case(n: 2, h: 13, w: 13, c: 9, f: 5, same: false, stride: 2),    // valid, partial vectors
        Case(n: 1, h: 9, w: 7, c: 12, f: 20, same: true, stride: 2),     // not square, cropped tiles
        Case(n: 3, h: 20, w: 20, c: 17, f: 33, same: true, stride: 2),   // three tiles a side, the last cropped
        Case(n: 2, h: 29, w: 27, c: 9, f: 17, same: true, stride: 2, tile: 7),    // 3 × 2 tiles of 7×7, cropped
        Case(n: 70, h: 5, w: 5, c: 8, f: 3, same: false, stride: 2),     // three groups, the last partial
        Case(n: 37, h: 16, w: 16, c: 8, f: 3, same: false, stride: 2, tile: 7),   // two groups, blocks of 6
    ]

    func stride2(_ s: Case, avx2Products: Bool = true, wide: Bool = true) -> WinogradConvolution {
        WinogradConvolution(height: s.h, width: s.w, channels: s.c, filters: s.f, stride: 2, same: s.same,
                            avx2Products: avx2Products, tile: s.tile, wide: wide)
    }

    @Test("stride 2: forward, input gradient and kernel gradient equal the direct computation",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"), arguments: stride2Cases)
    func stride2MatchesDirect(_ s: Case) {
        var stream = RandomStream(seed: 31, name: "winograd stride 2")
        let x = (0..<s.n * s.h * s.w * s.c).map { _ in stream.nextNormal() }
        let k = (0..<9 * s.c * s.f).map { _ in stream.nextNormal() * 0.3 }
        for avx2Products in [true, false] {
            let g = stride2(s, avx2Products: avx2Products)
            let t = g.tile
            #expect(g.positions == (2 * t + 1) * (2 * t + 1) && g.kernelMatrices == (t + 2) * (t + 2)
                    && g.tilesH == (g.outHeight + t - 1) / t && g.tilesW == (g.outWidth + t - 1) / t)
            // The tile needing fewer products for the whole output, unless given.
            func products(_ m: Int) -> Int {
                ((g.outHeight + m - 1) / m) * ((g.outWidth + m - 1) / m) * (2 * m + 1) * (2 * m + 1)
            }
            #expect(g.tile == s.tile ?? (products(7) < products(4) ? 7 : 4))
            let dy = (0..<s.n * g.outHeight * g.outWidth * s.f).map { i in Float((i * 7919) % 13) / 6 - 1 }
            let expected = direct(x, k, dy, s, g)
            let got = run(x, k, dy, s, g, threads: 2)
            #expect(worstRelative(got.y, expected.y) < 1e-4, "products AVX2: \(avx2Products)")
            #expect(worstRelative(got.dx, expected.dx) < 1e-4, "products AVX2: \(avx2Products)")
            // dK: each group's dU goes through the adjoint kernel transform on its own (F(7, 2)'s
            // points ±2 and ±½ scale its rounding), then the groups' shares are added: 1.2e-4 in the
            // two-group 7×7-tile case, where one transform of the summed dU had < 1e-4.
            #expect(worstRelative(got.dk, expected.dk) < 2e-4, "products AVX2: \(avx2Products)")
            let single = run(x, k, dy, s, g, threads: 1)
            #expect(single.y == got.y && single.dx == got.dx && single.dk == got.dk)
        }
    }

    @Test("stride 2: bias and ReLU inside, the AVX-512 build's bits, V computed again from x",
          .enabled(if: VectorCode.avx512.isAvailable, "this CPU has no AVX-512"), arguments: stride2Cases)
    func stride2Builds(_ s: Case) {
        let wide = stride2(s), narrow = stride2(s, wide: false)
        #expect(wide.wide && !narrow.wide)
        let a = runFull(wide, n: s.n, pooled: false, seed: 37), b = runFull(narrow, n: s.n, pooled: false, seed: 37)
        let clobbered = runFull(wide, n: s.n, pooled: false, seed: 37, clobber: true)
        let compared: [(String, [Float], [Float], [Float])] = [
            ("y", a.y, b.y, clobbered.y), ("dx", a.dx, b.dx, clobbered.dx), ("dk", a.dk, b.dk, clobbered.dk),
            ("db", a.db, b.db, clobbered.db),
        ]
        for (name, p, q, r) in compared {
            #expect(p.map(\.bitPattern) == q.map(\.bitPattern), "\(name): AVX-512 and AVX2 builds differ")
            #expect(p.map(\.bitPattern) == r.map(\.bitPattern), "\(name): the backward read the forward's scratch")
        }
        #expect(a.dk.contains { $0 != 0 } && a.y.contains { $0 == 0 } && a.y.contains { $0 > 0 })
        // The same with OpenBLAS's products (only the products differ).
        let blas = runFull(stride2(s, avx2Products: false), n: s.n, pooled: false, seed: 37)
        expectAgree(a, blas, y: 2e-4, dx: 2e-4, dk: 5e-4, db: 1e-5, argmax: false)
    }
}
