// The direct convolution of single-channel images (DirectPath, Sources/CKernels/conv_direct.c)
// against the reference im2col path: the same bits for y, dK, db and dx, on odd sizes, strides,
// paddings and filter counts, batches that split the kernel gradient into pieces and batches that
// do not, on 1 and 2 threads.
import Kernels
import Testing

@Suite("Direct convolution of single-channel images", .enabled(if: VectorCode.avx512.isAvailable))
struct DirectConvolutionTests {
    struct Case: CustomStringConvertible, Sendable {
        let height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int), same: Bool, filters: Int
        var description: String { "\(height)×\(width) k\(kernel) s\(stride) \(same ? "same" : "valid") F\(filters)" }
    }

    /// y, dK, db and dx of one forward and backward pass of `path`.
    func run(_ path: any ConvolutionPath, _ g: Window2D, filters: Int, batch: Int, activation: Activation,
             bias: Bool, threads: Int) -> [[UInt32]] {
        var s = RandomStream(seed: 12, name: "direct")
        let x = FloatStorage((0..<batch * g.inputCount).map { _ in s.nextNormal() })
        let kernel = FloatStorage((0..<g.patch * filters).map { _ in s.nextNormal() * 0.3 })
        let b = FloatStorage((0..<filters).map { _ in s.nextNormal() * 0.1 })
        let dk = FloatStorage((0..<g.patch * filters).map { _ in s.nextNormal() })      // accumulated into
        let db = FloatStorage((0..<filters).map { _ in s.nextNormal() })
        let outputs = batch * g.positions * filters
        let y = FloatStorage(count: outputs), dy = FloatStorage((0..<outputs).map { _ in s.nextNormal() })
        let dx = FloatStorage(count: batch * g.inputCount)
        let scratch = FloatStorage(count: batch * path.scratchPerSample + path.scratchFixed)
        path.bind(scratch: scratch.view)
        let weights = ConvolutionWeights(kernel: kernel.view, bias: bias ? b.view : nil, kernelGradient: dk.view,
                                         biasGradient: bias ? db.view : nil)
        let pool = threads > 1 ? ThreadPool(threadCount: threads) : nil
        path.forward(x.view, weights: weights, activation: activation, into: y.view, batch: batch, pool: pool)
        path.backward(x: x.view, y: y.view, dy: dy.view, dx: dx.view, weights: weights, activation: activation,
                      batch: batch, pool: pool)
        return [y.array, dk.array, db.array, dx.array].map { $0.map(\.bitPattern) }
    }

    @Test("the same bits as im2col + products", arguments: [
        Case(height: 28, width: 28, kernel: (3, 3), stride: (1, 1), same: false, filters: 32),   // PyTorch's example
        Case(height: 28, width: 28, kernel: (3, 3), stride: (2, 2), same: true, filters: 32),    // strided
        Case(height: 13, width: 11, kernel: (5, 3), stride: (2, 1), same: true, filters: 37),
        Case(height: 9, width: 10, kernel: (7, 7), stride: (3, 2), same: true, filters: 1),
        Case(height: 12, width: 7, kernel: (1, 4), stride: (1, 3), same: false, filters: 64),
        Case(height: 6, width: 6, kernel: (2, 2), stride: (1, 1), same: true, filters: 17),
        // Rows long enough for the forward's blocks of outputs with one and four vectors of filters.
        Case(height: 5, width: 30, kernel: (3, 3), stride: (1, 1), same: true, filters: 16),
        Case(height: 6, width: 21, kernel: (3, 2), stride: (1, 1), same: false, filters: 50),
    ])
    func sameBits(_ c: Case) {
        let g = Window2D(height: c.height, width: c.width, channels: 1, kernel: c.kernel, stride: c.stride, same: c.same)
        #expect(DirectPath.applies(window: g, filters: c.filters))
        #expect(makeConvolutionPath(window: g, filters: c.filters, pooled: false).name == "direct")
        for (batch, activation, bias) in [(3, Activation.relu, true), (40, .linear, false), (33, .sigmoid, true)] {
            let reference = run(Im2colPath(window: g, filters: c.filters), g, filters: c.filters, batch: batch,
                                activation: activation, bias: bias, threads: 1)
            for threads in [1, 2] {
                let direct = run(DirectPath(window: g, filters: c.filters), g, filters: c.filters, batch: batch,
                                 activation: activation, bias: bias, threads: threads)
                for (i, what) in ["y", "dK", "db", "dx"].enumerated() {
                    #expect(direct[i] == reference[i], "\(what), batch \(batch), \(activation), \(threads) threads")
                }
            }
        }
    }
}
