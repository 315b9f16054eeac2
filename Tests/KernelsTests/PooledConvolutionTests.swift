// The pooled convolution's fast paths (ConvolutionPool.swift) against the reference ones: the
// AVX2/FMA narrow products against OpenBLAS's, the direct kernels (both register counts) against
// im2col with the same bits, the sparse gradient against the dense one.
import Kernels
import Testing

@Suite("The AVX2/FMA narrow products of a pooled convolution")
struct NarrowProductTests {
    /// Forward and backward of a pooled convolution with bias and ReLU; outputs as arrays.
    func run(_ c: PooledConvolution, n: Int, wantDx: Bool = true)
        -> (y: [Float], argmax: [Float], dk: [Float], db: [Float], dx: [Float]) {
        let g = c.window, f = c.filters
        var stream = RandomStream(seed: 11, name: "narrow")
        let x = FloatStorage((0..<n * g.inputCount).map { _ in stream.nextNormal() })
        let k = FloatStorage((0..<g.patch * f).map { _ in stream.nextNormal() * 0.3 })
        let b = FloatStorage((0..<f).map { _ in stream.nextNormal() * 0.1 })
        let dy = FloatStorage((0..<n * c.pooledCount).map { _ in stream.nextNormal() })
        let cols = FloatStorage(count: n * g.positions * g.patch), z = FloatStorage(count: n * c.outputCount)
        let y = FloatStorage(count: n * c.pooledCount), argmax = FloatStorage(count: n * c.pooledCount)
        let partials = FloatStorage(count: c.partialsCount(batch: n))
        let dk = FloatStorage(count: g.patch * f), db = FloatStorage(count: f), dx = FloatStorage(count: n * g.inputCount)
        let pool = ThreadPool(threadCount: 2)
        c.forward(x.view, kernel: k.view, bias: b.view, relu: true, cols: cols.view, z: z.view, into: y.view,
                  argmax: argmax.view, batch: n, pool: pool)
        c.backward(x: x.view, dy: dy.view, y: y.view, argmax: argmax.view, relu: true, kernel: k.view, cols: cols.view,
                   z: z.view, partials: partials.view, dKernel: dk.view, biasGradient: db.view,
                   dx: wantDx ? dx.view : nil, batch: n, pool: pool)
        return (y.array, argmax.array, dk.array, db.array, dx.array)
    }

    @Test("the sparse pooled gradient equals the dense one (dK, db, dx)",
          .enabled(if: Winograd3x3.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(14, 6, 5, 16, false), (12, 3, 3, 20, true), (9, 2, 3, 7, true), (11, 4, 5, 9, false),
                      (13, 8, 4, 32, true), (8, 16, 2, 24, false)])
    func sparseMatchesDense(_ size: Int, _ channels: Int, _ kernel: Int, _ filters: Int, _ same: Bool) {
        let g = Window2D(height: size, width: size, channels: channels, kernel: (kernel, kernel), stride: (1, 1), same: same)
        let sparse = PooledConvolution(window: g, filters: filters)
        let dense = PooledConvolution(window: g, filters: filters, sparse: false)
        #expect(sparse.sparseGradient && !dense.sparseGradient && dense.narrowProduct && !dense.directForward)
        #expect(sparse.directForward == (kernel == 3 || kernel == 5))
        for wantDx in [false, true] {
            let a = run(sparse, n: 13, wantDx: wantDx), b = run(dense, n: 13, wantDx: wantDx)
            // The direct forward (both register counts) gives im2col + narrow products' bits.
            #expect(a.y == b.y && a.argmax == b.argmax)
            let narrow = run(PooledConvolution(window: g, filters: filters, wide: false), n: 13, wantDx: wantDx)
            #expect(narrow.y == b.y && narrow.argmax == b.argmax)
            #expect(worstScaled(a.dk, b.dk) < 1e-5)
            #expect(worstScaled(a.db, b.db) < 1e-5)
            #expect(worstScaled(a.dx, b.dx) < 1e-5)
            #expect(a.dk.contains { $0 != 0 } && (!wantDx || a.dx.contains { $0 != 0 }))
        }
        // A kernel row wider than 32 floats stays dense.
        let wide = Window2D(height: size, width: size, channels: 12, kernel: (3, 3), stride: (1, 1), same: same)
        #expect(!PooledConvolution(window: wide, filters: filters).sparseGradient)
    }

    @Test("single-channel layers skip im2col with the same bits (forward, dK, db; dx through im2col)",
          .enabled(if: Winograd3x3.avx2Available, "this CPU has no AVX2/FMA"),
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

    @Test("agree with OpenBLAS's products", .enabled(if: Winograd3x3.avx2Available, "this CPU has no AVX2/FMA"),
          arguments: [(28, 1, 5, 6, true), (28, 1, 3, 32, false), (12, 6, 5, 16, false), (9, 3, 3, 20, true),
                      (7, 2, 3, 3, false)])
    func matchesOpenBLAS(_ size: Int, _ channels: Int, _ kernel: Int, _ filters: Int, _ same: Bool) {
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
