// Convolution kernels: window sizes by Keras's rules, im2col against a naive gather, col2im as
// im2col's adjoint, and the row-block bias gradient against a plain sum.
import Kernels
import Testing

struct WindowCase: Sendable, CustomTestStringConvertible {
    let h: Int, w: Int, c: Int, kh: Int, kw: Int, sh: Int, sw: Int, same: Bool
    var testDescription: String { "\(h)×\(w)×\(c) kernel \(kh)×\(kw) stride \(sh)×\(sw) \(same ? "same" : "valid")" }
    var window: Window2D {
        Window2D(height: h, width: w, channels: c, kernel: (kh, kw), stride: (sh, sw), same: same)
    }
}

@Suite("Convolution kernels")
struct ConvolutionKernelTests {
    @Test("output sizes and padding follow Keras/TensorFlow")
    func windowSizes() {
        // (input, kernel, stride, same) → (output, padding before)
        let cases: [((Int, Int, Int, Bool), (Int, Int))] = [
            ((28, 3, 1, false), (26, 0)), ((26, 2, 2, false), (13, 0)), ((11, 2, 2, false), (5, 0)),
            ((28, 5, 1, true), (28, 2)), ((5, 3, 2, true), (3, 1)), ((6, 3, 2, true), (3, 0)),
            ((5, 2, 1, true), (5, 0)), ((4, 5, 1, true), (4, 2)), ((7, 1, 3, true), (3, 0)),
            ((4, 4, 1, false), (1, 0)), ((4, 5, 1, false), (0, 0)), ((2, 5, 1, false), (-2, 0)),
        ]
        for ((size, k, s, same), expected) in cases {
            let g = Window2D(height: size, width: 1, channels: 1, kernel: (k, 1), stride: (s, 1), same: same)
            #expect((g.outHeight, g.padTop) == expected, "in \(size) k \(k) s \(s) same \(same)")
        }
    }

    static let cases = [
        WindowCase(h: 5, w: 6, c: 3, kh: 3, kw: 3, sh: 1, sw: 1, same: true),
        WindowCase(h: 7, w: 6, c: 2, kh: 3, kw: 2, sh: 2, sw: 2, same: false),
        WindowCase(h: 6, w: 5, c: 1, kh: 4, kw: 3, sh: 2, sw: 1, same: true),
        WindowCase(h: 3, w: 4, c: 2, kh: 5, kw: 5, sh: 1, sw: 3, same: true),
    ]

    @Test("im2col gathers each window in (i, j, c) order with zeros over the padding", arguments: cases)
    func im2colMatchesNaive(_ w: WindowCase) {
        let g = w.window, n = 2
        let x = FloatStorage((0..<n * g.inputCount).map { Float($0 + 1) })
        let cols = FloatStorage((0..<n * g.positions * g.patch).map { _ in -1 })   // every slot must be written
        im2col(x.view, into: cols.view, window: g, batch: n, pool: ThreadPool(threadCount: 2))
        var expected: [Float] = []
        for s in 0..<n {
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    for i in 0..<g.kernelHeight {
                        for j in 0..<g.kernelWidth {
                            for c in 0..<g.channels {
                                let h = oh * g.strideHeight - g.padTop + i, v = ow * g.strideWidth - g.padLeft + j
                                let inside = h >= 0 && h < g.height && v >= 0 && v < g.width
                                expected.append(inside ? x.view[((s * g.height + h) * g.width + v) * g.channels + c] : 0)
                            }
                        }
                    }
                }
            }
        }
        #expect(cols.array == expected)
    }

    @Test("col2im is the adjoint of im2col: ⟨im2col(x), d⟩ = ⟨x, col2im(d)⟩", arguments: cases)
    func col2imIsAdjoint(_ w: WindowCase) {
        let g = w.window, n = 3
        var stream = RandomStream(seed: 4, name: "adjoint")
        let x = FloatStorage((0..<n * g.inputCount).map { _ in stream.nextNormal() })
        let d = FloatStorage((0..<n * g.positions * g.patch).map { _ in stream.nextNormal() })
        let cols = FloatStorage(count: d.count)
        let back = FloatStorage((0..<x.count).map { _ in 99 })   // col2im overwrites, never adds to old values
        im2col(x.view, into: cols.view, window: g, batch: n, pool: nil)
        col2im(d.view, into: back.view, window: g, batch: n, pool: ThreadPool(threadCount: 2))
        let left = zip(cols.array, d.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x.array, back.array).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) < 1e-4 * max(1, abs(left)), "\(left) vs \(right)")
    }

    @Test("the bias gradient of fixed row blocks equals the plain column sums, on any thread count")
    func biasGradient() {
        let rows = 5_000, cols = 24
        var stream = RandomStream(seed: 6, name: "db")
        let dz = (0..<rows * cols).map { _ in stream.nextNormal() }
        #expect(rowBlocks(rows: rows, cols: cols).count > 1)
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            let dy = FloatStorage(dz), y = FloatStorage(count: rows * cols)
            let db = FloatStorage((0..<cols).map { Float($0) })
            activationBackward(y: y.view, dy: dy.view, rows: rows, cols: cols, activation: .linear,
                               biasGradient: db.view, partials: FloatStorage(count: 8 * cols).view,
                               pool: ThreadPool(threadCount: threads))
            results.append(db.array)
        }
        #expect(results[0] == results[1] && results[0] == results[2])
        for j in 0..<cols {
            let exact = (0..<rows).reduce(Double(j)) { $0 + Double(dz[$1 * cols + j]) }
            #expect(abs(Double(results[0][j]) - exact) < 1e-3)
        }
    }

    @Test("a dense layer's column sums split by columns over a pool are the plain loop's bits")
    func columnSumsOnThreads() {
        let rows = 128, cols = 520
        var stream = RandomStream(seed: 7, name: "column sums")
        let x = FloatStorage((0..<rows * cols).map { _ in stream.nextNormal() })
        let start = (0..<cols).map { _ in stream.nextNormal() }
        let plain = FloatStorage(start)
        accumulateColumnSums(x.view, rows: rows, cols: cols, into: plain.view)
        #expect(columnBlocks(rows: rows, cols: cols).count > 1)
        for threads in [2, 3] {
            let split = FloatStorage(start)
            accumulateColumnSums(x.view, rows: rows, cols: cols, into: split.view, pool: ThreadPool(threadCount: threads))
            #expect(split.array == plain.array, "\(threads) threads")
        }
        // Each column's rows in order, from the value it had: the sum a scalar loop makes.
        for j in [0, 17, cols - 1] {
            var sum = start[j]
            for i in 0..<rows { sum += x.array[i * cols + j] }
            #expect(plain.array[j] == sum)
        }
    }
}
