// The optimizers' update kernels against Keras's formulas, worked by hand.
import Kernels
import Testing

@Suite("Optimizer updates")
struct OptimizerKernelTests {
    @Test("Adam's first step moves each weight by about the learning rate, against the gradient")
    func adamFirstStep() {
        let w = FloatStorage([1, 1, 1]), g = FloatStorage([0.5, -2, 0])
        let m = FloatStorage(count: 3), v = FloatStorage(count: 3)
        adamUpdate(parameters: w.view, gradients: g.view, firstMoment: m.view, secondMoment: v.view,
                   learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, step: 1, weightDecay: 0, pool: nil)
        // t = 1: m̂ = g, v̂ = g², so w -= lr · g / (|g| + ε·…) = lr · sign(g).
        #expect(abs(w.view[0] - 0.9) < 1e-5 && abs(w.view[1] - 1.1) < 1e-5 && w.view[2] == 1)
        #expect(abs(m.view[0] - 0.05) < 1e-7 && abs(v.view[1] - 0.004) < 1e-7)
    }

    @Test("SGD with momentum and Nesterov follows Keras's formulas")
    func sgd() {
        let w = FloatStorage([1]), g = FloatStorage([2]), velocity = FloatStorage(count: 1)
        for _ in 0..<2 {
            sgdUpdate(parameters: w.view, gradients: g.view, velocity: velocity.view, learningRate: 0.1,
                      momentum: 0.9, nesterov: false, pool: nil)
        }
        // v1 = -0.2, w1 = 0.8; v2 = 0.9·(-0.2) - 0.2 = -0.38, w2 = 0.42
        #expect(abs(w.view[0] - 0.42) < 1e-6)
        let wn = FloatStorage([1]), vn = FloatStorage(count: 1)
        sgdUpdate(parameters: wn.view, gradients: g.view, velocity: vn.view, learningRate: 0.1, momentum: 0.9,
                  nesterov: true, pool: nil)
        // v1 = -0.2; w1 = 1 + 0.9·(-0.2) - 0.2 = 0.62
        #expect(abs(wn.view[0] - 0.62) < 1e-6)
    }

    @Test("RMSprop divides by the running RMS of the gradient")
    func rmsprop() {
        let w = FloatStorage([1]), g = FloatStorage([2]), s = FloatStorage(count: 1)
        rmspropUpdate(parameters: w.view, gradients: g.view, meanSquare: s.view, meanGradient: nil, velocity: nil,
                      learningRate: 0.01, rho: 0.9, momentum: 0, epsilon: 1e-7, pool: nil)
        // s = 0.1·4 = 0.4; w -= 0.01·2/√0.4
        #expect(abs(w.view[0] - (1 - 0.02 / Float(0.4).squareRoot())) < 1e-6)
    }

    @Test("Adam in AVX2 and AVX-512 (adam.c) gives the Swift loop's bits, odd lengths included",
          arguments: [VectorCode.avx2, .avx512])
    func adamBuildsAgree(_ code: VectorCode) throws {
        try #require(code.isAvailable)
        var s = RandomStream(seed: 8, name: "adam builds")
        let count = 4_096 * 2 + 37
        let start = (0..<count).map { _ in s.nextNormal() }
        let gradients = (0..<3).map { _ in FloatStorage((0..<count).map { _ in s.nextNormal() * 1e-3 }) }
        var results: [[Float]] = []
        for build in [VectorCode.portable, code] {
            let w = FloatStorage(start), m = FloatStorage(count: count), v = FloatStorage(count: count)
            for step in 1...3 {
                adamUpdate(parameters: w.view, gradients: gradients[step - 1].view, firstMoment: m.view,
                           secondMoment: v.view, learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7,
                           step: step, weightDecay: 0.004, pool: ThreadPool(threadCount: 2), code: build)
            }
            results.append(w.array + m.array + v.array)
        }
        #expect(results[0] == results[1])
        #expect(results[0].prefix(count) != start[...])
    }

    @Test("SGD with momentum, RMSprop and Adadelta in AVX-512 (sgd.c, rmsprop_adadelta.c) give the Swift loops' bits, odd lengths included")
    func rmspropAdadeltaBuildsAgree() throws {
        try #require(VectorCode.avx512.isAvailable)
        var s = RandomStream(seed: 9, name: "rmsprop adadelta builds")
        let count = 4_096 * 2 + 37
        let start = (0..<count).map { _ in s.nextNormal() }
        let gradients = (0..<3).map { _ in FloatStorage((0..<count).map { _ in s.nextNormal() * 1e-3 }) }
        for optimizer in ["sgd", "nesterov", "rmsprop", "adadelta"] {
            var results: [[Float]] = []
            for build in [VectorCode.portable, .avx512] {
                let w = FloatStorage(start), a = FloatStorage(count: count), d = FloatStorage(count: count)
                for step in 0..<3 {
                    if optimizer == "sgd" || optimizer == "nesterov" {
                        sgdUpdate(parameters: w.view, gradients: gradients[step].view, velocity: a.view,
                                  learningRate: 0.01, momentum: 0.9, nesterov: optimizer == "nesterov",
                                  weightDecay: 0.004, pool: ThreadPool(threadCount: 2), code: build)
                    } else if optimizer == "rmsprop" {
                        rmspropUpdate(parameters: w.view, gradients: gradients[step].view, meanSquare: a.view,
                                      meanGradient: nil, velocity: nil, learningRate: 0.001, rho: 0.9, momentum: 0,
                                      epsilon: 1e-7, weightDecay: 0.004, pool: ThreadPool(threadCount: 2), code: build)
                    } else {
                        adadeltaUpdate(parameters: w.view, gradients: gradients[step].view, accumulatedGradient: a.view,
                                       accumulatedDelta: d.view, learningRate: 1, rho: 0.9, epsilon: 1e-6,
                                       weightDecay: 0, pool: ThreadPool(threadCount: 2), code: build)
                    }
                }
                results.append(w.array + a.array + d.array)
            }
            let differing = zip(results[0], results[1]).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(optimizer): \(differing) of \(results[0].count) floats differ")
            #expect(results[0].prefix(count) != start[...], "\(optimizer)")
        }
    }
}
