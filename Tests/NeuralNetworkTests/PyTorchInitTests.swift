// PyTorch's default initialisation of nn.Linear and nn.Conv2d (kaiming_uniform_ with a = √5 for
// the weight, U(±1/√fan_in) for the bias): `pytorch_default`, for the reproduction of PyTorch's
// examples/mnist.
import Kernels
import NeuralNetwork
import Testing

@Suite("PyTorch's default initialisation")
struct PyTorchInitTests {
    @Test("pytorch_default: U(±1/√fan_in) — kaiming_uniform_(a=√5)'s gain √(2/(1+5))·√(3/fan_in)")
    func bound() {
        let fanIn = 288                                    // conv2 of examples/mnist: 32 · 3 · 3
        let a = FloatStorage(count: 5_000)
        var stream = RandomStream(seed: 7, name: "init/conv2d_1/kernel")
        Initializer.pytorchDefault.fill(a.view, fanIn: fanIn, fanOut: 576, stream: &stream)
        let limit = Float(1 / Double(fanIn).squareRoot())   // = √(2/6)·√(3/288) = 0.0589
        #expect(abs(limit - Float((2.0 / 6).squareRoot() * (3.0 / 288).squareRoot())) < 1e-7)
        #expect(a.array.allSatisfy { abs($0) <= limit } && a.array.contains { abs($0) > 0.99 * limit })
        // The same draws as lecun_uniform's, scaled by 1/√3: both are U(±c) from one stream.
        let b = FloatStorage(count: 5_000)
        var same = RandomStream(seed: 7, name: "init/conv2d_1/kernel")
        Initializer.lecunUniform.fill(b.view, fanIn: fanIn, fanOut: 576, stream: &same)
        for i in 0..<100 { #expect(abs(a.view[i] * Float(3).squareRoot() - b.view[i]) < 1e-6) }
        #expect(Initializer(rawValue: "pytorch_default") == .pytorchDefault)
    }

    @Test("a dense layer's bias with pytorch_default uses the kernel's fan_in, as nn.Linear does")
    func bias() throws {
        var config = Dense.Config(units: 10)
        config.kernelInitializer = .pytorchDefault
        config.biasInitializer = .pytorchDefault
        let layer = try Dense(config, inputShape: Shape([128]), name: "fc2")
        let bias = try #require(layer.parameterSpecs.first { $0.name == "bias" })
        #expect(bias.fanIn == 128 && bias.initializer == .pytorchDefault)
    }
}
