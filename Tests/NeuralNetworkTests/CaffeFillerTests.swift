// Caffe's fillers: caffe_xavier is lecun_uniform under another name (Caffe's default variance_norm
// FAN_IN); caffe_msra is an untruncated normal, unlike Keras's he_normal.
import Kernels
import NeuralNetwork
import Testing

@Suite("Caffe's fillers")
struct CaffeFillerTests {
    @Test("caffe_xavier draws exactly lecun_uniform's values: U(±√(3/fan_in))")
    func xavier() {
        let a = FloatStorage(count: 500), b = FloatStorage(count: 500)
        var s1 = RandomStream(seed: 4, name: "init/conv/kernel"), s2 = s1
        Initializer.caffeXavier.fill(a.view, fanIn: 75, fanOut: 20, stream: &s1)
        Initializer.lecunUniform.fill(b.view, fanIn: 75, fanOut: 20, stream: &s2)
        #expect(a.array == b.array)
        #expect(a.array.allSatisfy { abs($0) <= 0.2 } && a.array.contains { abs($0) > 0.19 })   // √(3/75) = 0.2
    }

    @Test("caffe_msra: N(0, 2/fan_in) untruncated — values beyond 2σ occur, unlike he_normal")
    func msra() {
        let n = 20_000, fanIn = 50
        let a = FloatStorage(count: n), b = FloatStorage(count: n)
        var s1 = RandomStream(seed: 6, name: "init/dense/kernel"), s2 = s1
        Initializer.caffeMSRA.fill(a.view, fanIn: fanIn, fanOut: 10, stream: &s1)
        let sigma = (2.0 / Double(fanIn)).squareRoot()
        // The same draws as stream.nextNormal()·σ.
        for i in 0..<n { b.view[i] = s2.nextNormal() * Float(sigma) }
        #expect(a.array == b.array)
        let values = a.array.map(Double.init)
        let variance = values.reduce(0) { $0 + $1 * $1 } / Double(n)
        #expect(abs(variance.squareRoot() / sigma - 1) < 0.02)
        let beyond = values.filter { abs($0) > 2 * sigma }.count
        #expect(beyond > n / 50, "a normal has 4.6% beyond 2σ; got \(beyond)")
        let he = FloatStorage(count: n)
        var s3 = RandomStream(seed: 6, name: "init/dense/kernel")
        Initializer.heNormal.fill(he.view, fanIn: fanIn, fanOut: 10, stream: &s3)
        #expect(he.array.allSatisfy { Double(abs($0)) <= 2 * sigma / 0.87962566103423978 + 1e-6 })
        #expect(Initializer(rawValue: "caffe_msra") == .caffeMSRA && Initializer(rawValue: "caffe_xavier") == .caffeXavier)
    }
}
