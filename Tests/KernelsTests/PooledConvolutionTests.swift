// The pooled convolution's fast paths (ConvolutionPool.swift) against the reference ones: the
// AVX2/FMA narrow products against `sgemm`'s (with the Swift pooling), the direct kernels (both
// register counts) against im2col with the same bits, the sparse gradient against the dense one
// and finite differences.
import Kernels
import Testing

@Suite("The AVX2/FMA narrow products of a pooled convolution")
struct NarrowProductTests {
    /// Forward and backward of a pooled convolution with bias and ReLU (or none); outputs as arrays.
    /// With `digits`, x is zero outside a centred square and at random pixels inside it (as MNIST's
    /// background), so whole windows and patches are zeros.
    func run(_ c: PooledConvolution, n: Int, wantDx: Bool = true, relu: Bool = true, threads: Int = 2,
             digits: Bool = false) -> (y: [Float], argmax: [Float], dk: [Float], db: [Float], dx: [Float]) {
        let g = c.window, f = c.filters
        var stream = RandomStream(seed: 11, name: "narrow")
        let x = FloatStorage((0..<n * g.inputCount).map { i in
            let v = stream.nextNormal(), pixel = i / g.channels % (g.height * g.width)
            let (r, s) = (pixel / g.width, pixel % g.width), edge = g.height / 4
            let inside = r >= edge && r < g.height - edge && s >= edge && s < g.width - edge
            return digits && (!inside || v < -0.5) ? 0 : v
        })
        let k = FloatStorage((0..<g.patch * f).map { _ in stream.nextNormal() * 0.3 })
        let b = FloatStorage((0..<f).map { _ in stream.nextNormal() * 0.1 })
        let dy = FloatStorage((0..<n * c.pooledCount).map { _ in stream.nextNormal() })
        let cols = FloatStorage(count: n * g.positions * g.patch), z = FloatStorage(count: n * c.outputCount)
        let y = FloatStorage(count: n * c.pooledCount), argmax = FloatStorage(count: n * c.pooledCount)
        let partials = FloatStorage(count: c.partialsCount(batch: n))
        let dk = FloatStorage(count: g.patch * f), db = FloatStorage(count: f), dx = FloatStorage(count: n * g.inputCount)
        let pool = threads > 1 ? ThreadPool(threadCount: threads) : nil
        c.forward(x.view, kernel: k.view, bias: b.view, relu: relu, cols: cols.view, z: z.view, into: y.view,
                  argmax: argmax.view, batch: n, pool: pool)
        c.backward(x: x.view, dy: dy.view, y: y.view, argmax: argmax.view, relu: relu, kernel: k.view, cols: cols.view,
                   z: z.view, partials: partials.view, dKernel: dk.view, biasGradient: db.view,
                   dx: wantDx ? dx.view : nil, batch: n, pool: pool)
        return (y.array, argmax.array, dk.array, db.array, dx.array)
    }

    @Test("the sparse pooled gradient equals the dense one (dK, db, dx)",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(14, 6, 5, 16, false, true), (12, 3, 3, 20, true, true), (9, 2, 3, 7, true, true),
                      (11, 4, 5, 9, false, true), (13, 8, 4, 32, true, true), (8, 16, 2, 24, false, true),
                      // Narrow rows without an activation (every window's gradient passes), 16 and 12 filters.
                      (10, 6, 5, 16, true, false), (9, 5, 3, 12, false, false),
                      // Kernel rows past 32 floats and more than 32 filters (im2col + gemm.c forward):
                      // Caffe's LeNet's second layer (rows of 5·20, 50 filters, no activation), a row
                      // of one vector and a bit, 33 filters, a row of 10 vectors.
                      (12, 20, 5, 50, false, false), (10, 9, 5, 40, true, true), (9, 13, 3, 33, false, false),
                      (7, 40, 4, 12, true, true)])
    func sparseMatchesDense(_ size: Int, _ channels: Int, _ kernel: Int, _ filters: Int, _ same: Bool, _ relu: Bool) {
        let g = Window2D(height: size, width: size, channels: channels, kernel: (kernel, kernel), stride: (1, 1), same: same)
        let sparse = PooledConvolution(window: g, filters: filters)
        let dense = PooledConvolution(window: g, filters: filters, sparse: false)
        #expect(sparse.sparseGradient && !dense.sparseGradient && !dense.directForward)
        #expect(sparse.directForward == ((kernel == 3 || kernel == 5) && sparse.narrowProduct))
        for wantDx in [false, true] {
            let a = run(sparse, n: 13, wantDx: wantDx, relu: relu), b = run(dense, n: 13, wantDx: wantDx, relu: relu)
            // The direct forward (both register counts) gives im2col + narrow products' bits.
            #expect(a.y == b.y && a.argmax == b.argmax)
            let narrow = run(PooledConvolution(window: g, filters: filters, wide: false), n: 13, wantDx: wantDx,
                             relu: relu)
            #expect(narrow.y == b.y && narrow.argmax == b.argmax)
            // The sparse gradient's AVX2 and AVX-512 code: the same operations per element.
            #expect(narrow.dk == a.dk && narrow.db == a.db && narrow.dx == a.dx)
            #expect(worstScaled(a.dk, b.dk) < 1e-5)
            #expect(worstScaled(a.db, b.db) < 1e-5)
            #expect(worstScaled(a.dx, b.dx) < 1e-5)
            #expect(a.dk.contains { $0 != 0 } && (!wantDx || a.dx.contains { $0 != 0 }))
            // Chunks from the shapes alone: the same bits on 1, 2 and 3 threads.
            for threads in [1, 3] {
                let t = run(sparse, n: 13, wantDx: wantDx, relu: relu, threads: threads)
                #expect(t.y == a.y && t.dk == a.dk && t.db == a.db && t.dx == a.dx)
            }
        }
        // A strided layer stays dense.
        let strided = Window2D(height: size, width: size, channels: channels, kernel: (kernel, kernel), stride: (2, 2),
                               same: same)
        #expect(!PooledConvolution(window: strided, filters: filters).sparseGradient)
    }

    @Test("the sparse gradient's lists fit: the largest wide layer it takes matches the dense one, a filter more is not taken",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"))
    func sparseListsFit() {
        // Rows of 5·7 floats (the wide kernel), 22×22 windows: each window's dx lists need its
        // nonzero gradients and four spare slots, 484 · (29 + 4) = 15,972 of 16,384. With 30
        // filters they would need 16,456 (an earlier bound, windows · (filters + 1), took it).
        let g = Window2D(height: 48, width: 48, channels: 7, kernel: (5, 5), stride: (1, 1), same: false)
        let sparse = PooledConvolution(window: g, filters: 29)
        #expect(sparse.sparseGradient)
        #expect(!PooledConvolution(window: g, filters: 30).sparseGradient)
        // No ReLU: every window's gradient is nonzero, so the lists are as long as they get.
        let a = run(sparse, n: 3, relu: false), b = run(PooledConvolution(window: g, filters: 29, sparse: false), n: 3,
                                                        relu: false)
        #expect(a.y == b.y && a.argmax == b.argmax)
        #expect(worstScaled(a.dk, b.dk) < 1e-5 && worstScaled(a.db, b.db) < 1e-5 && worstScaled(a.dx, b.dx) < 1e-5)
    }

    /// L = Σ r ⊙ y of a pooled convolution for x, K and b, in Double, and which output each window
    /// took (and whether it is positive).
    func pooledLoss(_ c: PooledConvolution, x: [Float], k: [Float], b: [Float], r: [Float], relu: Bool, n: Int)
        -> (loss: Double, argmax: [Int]) {
        let g = c.window
        let cols = FloatStorage(count: n * g.positions * g.patch), z = FloatStorage(count: n * c.outputCount)
        let y = FloatStorage(count: n * c.pooledCount), argmax = FloatStorage(count: n * c.pooledCount)
        c.forward(FloatStorage(x).view, kernel: FloatStorage(k).view, bias: FloatStorage(b).view, relu: relu,
                  cols: cols.view, z: z.view, into: y.view, argmax: argmax.view, batch: n, pool: nil)
        // argmax holds Int32s: their bits, not their values as floats.
        let pattern = zip(argmax.array, y.array).map { Int($0.bitPattern) + ($1 > 0 ? 4 : 0) }
        return (zip(y.array, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }, pattern)
    }

    @Test("the sparse pooled gradient matches finite differences (dK, db, dx; wide rows, many filters)",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(9, 20, 5, 40, false, false), (8, 7, 3, 36, true, true)])
    func sparseFiniteDifferences(_ size: Int, _ channels: Int, _ kernel: Int, _ filters: Int, _ same: Bool,
                                 _ relu: Bool) {
        let g = Window2D(height: size, width: size, channels: channels, kernel: (kernel, kernel), stride: (1, 1), same: same)
        let c = PooledConvolution(window: g, filters: filters), n = 2
        #expect(c.sparseGradient)
        var stream = RandomStream(seed: 5, name: "finite")
        let x = (0..<n * g.inputCount).map { _ in stream.nextNormal() }
        let k = (0..<g.patch * filters).map { _ in stream.nextNormal() * 0.3 }
        let b = (0..<filters).map { _ in stream.nextNormal() * 0.1 }
        let r = (0..<n * c.pooledCount).map { _ in stream.nextNormal() }
        // Analytic: backward with dy = r.
        let cols = FloatStorage(count: n * g.positions * g.patch), z = FloatStorage(count: n * c.outputCount)
        let y = FloatStorage(count: n * c.pooledCount), argmax = FloatStorage(count: n * c.pooledCount)
        let xs = FloatStorage(x), ks = FloatStorage(k)
        c.forward(xs.view, kernel: ks.view, bias: FloatStorage(b).view, relu: relu, cols: cols.view, z: z.view,
                  into: y.view, argmax: argmax.view, batch: n, pool: nil)
        let dk = FloatStorage(count: k.count), db = FloatStorage(count: filters), dx = FloatStorage(count: x.count)
        c.backward(x: xs.view, dy: FloatStorage(r).view, y: y.view, argmax: argmax.view, relu: relu, kernel: ks.view,
                   cols: cols.view, z: z.view, partials: FloatStorage(count: c.partialsCount(batch: n)).view,
                   dKernel: dk.view, biasGradient: db.view, dx: dx.view, batch: n, pool: nil)
        // Central differences on a spread of entries; a pair that moves a window's maximum (or
        // crosses the ReLU's kink) is skipped.
        let h: Float = 1e-2
        var checked = 0
        func check(_ analytic: Float, _ loss: (Float) -> (loss: Double, argmax: [Int])) {
            let plus = loss(h), minus = loss(-h)
            guard plus.argmax == minus.argmax else { return }
            let numeric = (plus.loss - minus.loss) / Double(2 * h)
            #expect(abs(numeric - Double(analytic)) <= 2e-2 * max(1, abs(numeric)))
            checked += 1
        }
        for i in stride(from: 0, to: k.count, by: 97) {
            check(dk.view[i]) { d in var kk = k; kk[i] += d; return pooledLoss(c, x: x, k: kk, b: b, r: r, relu: relu, n: n) }
        }
        for j in stride(from: 0, to: filters, by: 3) {
            check(db.view[j]) { d in var bb = b; bb[j] += d; return pooledLoss(c, x: x, k: k, b: bb, r: r, relu: relu, n: n) }
        }
        for i in stride(from: 0, to: x.count, by: 41) {
            check(dx.view[i]) { d in var xx = x; xx[i] += d; return pooledLoss(c, x: xx, k: k, b: b, r: r, relu: relu, n: n) }
        }
        #expect(checked > 40)
    }

    @Test("single-channel layers skip im2col with the same bits (forward, dK, db; dx through im2col)",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(28, 5, 6, true), (28, 3, 32, false), (9, 3, 20, true), (11, 5, 13, false), (13, 3, 9, false),
                      (6, 5, 8, true)])
    func directSameBits(_ size: Int, _ kernel: Int, _ filters: Int, _ same: Bool) {
        let g = Window2D(height: size, width: size, channels: 1, kernel: (kernel, kernel), stride: (1, 1), same: same)
        let direct = PooledConvolution(window: g, filters: filters)
        let narrowRegisters = PooledConvolution(window: g, filters: filters, wide: false)
        let columns = PooledConvolution(window: g, filters: filters, direct: false, sparse: false)
        #expect(direct.direct && narrowRegisters.direct && !columns.direct && columns.narrowProduct)
        for wantDx in [false, true] {
            let b = run(columns, n: 13, wantDx: wantDx)
            for a in [run(direct, n: 13, wantDx: wantDx), run(narrowRegisters, n: 13, wantDx: wantDx)] {
                #expect(a.y == b.y && a.argmax == b.argmax)
                #expect(a.dk == b.dk && a.db == b.db)
                #expect(a.dx == b.dx)
                #expect(a.dk.contains { $0 != 0 } && a.y.contains { $0 > 0 })
            }
        }
        // Shapes the direct kernels do not take stay on im2col.
        let strided = Window2D(height: size, width: size, channels: 1, kernel: (kernel, kernel), stride: (2, 2), same: same)
        #expect(!PooledConvolution(window: strided, filters: filters).direct)
        let twoChannels = Window2D(height: size, width: size, channels: 2, kernel: (kernel, kernel), stride: (1, 1), same: same)
        #expect(!PooledConvolution(window: twoChannels, filters: filters).direct)
    }

    @Test("the single-channel kernel gradient leaves out zero pixels with the same bits (zero backgrounds, batch 1)",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(28, 5, 6, true), (28, 5, 16, true), (11, 5, 13, false), (9, 3, 20, true), (13, 3, 9, false),
                      (12, 5, 32, true), (7, 3, 3, false)])
    func directSkipsZeros(_ size: Int, _ kernel: Int, _ filters: Int, _ same: Bool) {
        let g = Window2D(height: size, width: size, channels: 1, kernel: (kernel, kernel), stride: (1, 1), same: same)
        let direct = PooledConvolution(window: g, filters: filters)
        let narrowRegisters = PooledConvolution(window: g, filters: filters, wide: false)
        let columns = PooledConvolution(window: g, filters: filters, direct: false, sparse: false)
        #expect(direct.direct && narrowRegisters.direct && !columns.direct)
        for (n, relu) in [(1, true), (13, true), (5, false)] {
            let b = run(columns, n: n, wantDx: false, relu: relu, digits: true)
            #expect(b.dk.contains { $0 != 0 } && b.y.contains { $0 > 0 })
            for a in [run(direct, n: n, wantDx: false, relu: relu, digits: true),
                      run(narrowRegisters, n: n, wantDx: false, relu: relu, threads: 1, digits: true)] {
                #expect(a.y == b.y && a.argmax == b.argmax)
                #expect(a.dk == b.dk && a.db == b.db)
            }
        }
    }

    @Test("the direct forward's AVX-512 passes give im2col's bits at every width and height (1 to 10 windows)",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(6, 5), (3, 5), (1, 5), (6, 3), (4, 3)])
    func directForwardWidths(_ channels: Int, _ kernel: Int) {
        for (size, filters, same) in [(kernel + 1, 16, false), (kernel + 3, 20, false), (kernel + 5, 16, true),
                                      (kernel + 7, 24, false), (kernel + 9, 16, false), (kernel + 12, 24, false),
                                      (kernel + 13, 16, true), (kernel + 17, 17, false),
                                      // One 8-filter group or less (one channel: two window rows a pass).
                                      (kernel + 4, 6, true), (kernel + 10, 5, false), (kernel + 2, 8, false)] {
            let g = Window2D(height: size + 1, width: size, channels: channels, kernel: (kernel, kernel),
                             stride: (1, 1), same: same)
            let direct = PooledConvolution(window: g, filters: filters)
            let columns = PooledConvolution(window: g, filters: filters, direct: false, sparse: false)
            #expect(direct.directForward && !columns.directForward)
            for n in [1, 3] {
                let a = run(direct, n: n, wantDx: false), b = run(columns, n: n, wantDx: false)
                #expect(a.y == b.y && a.argmax == b.argmax)
                #expect(a.y.contains { $0 > 0 })
                let c = run(direct, n: n, wantDx: false, relu: false), d = run(columns, n: n, wantDx: false, relu: false)
                #expect(c.y == d.y && c.argmax == d.argmax)
            }
        }
    }

    @Test("agree with the portable path (sgemm's products, the Swift pooling)",
          .enabled(if: WinogradConvolution.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(28, 1, 5, 6, true), (28, 1, 3, 32, false), (12, 6, 5, 16, false), (9, 3, 3, 20, true),
                      (7, 2, 3, 3, false)])
    func matchesPortable(_ size: Int, _ channels: Int, _ kernel: Int, _ filters: Int, _ same: Bool) {
        let g = Window2D(height: size, width: size, channels: channels, kernel: (kernel, kernel), stride: (1, 1), same: same)
        let fast = PooledConvolution(window: g, filters: filters)
        let reference = PooledConvolution(window: g, filters: filters, avx2: false)
        #expect(fast.narrowProduct && !reference.narrowProduct)
        let a = run(fast, n: 7), b = run(reference, n: 7)
        #expect(worstRelative(a.y, b.y) < 1e-5)
        #expect(worstRelative(a.dk, b.dk) < 1e-4)
        #expect(worstRelative(a.db, b.db) < 1e-5)
        #expect(worstRelative(a.dx, b.dx) < 1e-5)
    }
}
