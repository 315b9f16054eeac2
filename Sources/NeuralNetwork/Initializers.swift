// Weight initialisers with Keras's names and formulas. Each parameter tensor draws from its own
// named stream, so adding a layer never changes how the others start.
import Kernels

public enum Initializer: String, CaseIterable, Sendable, Codable {
    case zeros, ones
    case glorotUniform = "glorot_uniform", glorotNormal = "glorot_normal"
    case heUniform = "he_uniform", heNormal = "he_normal"
    case lecunUniform = "lecun_uniform", lecunNormal = "lecun_normal"
    /// Caffe's `xavier` filler with its default variance_norm FAN_IN: U(±√(3/fan_in)), the same
    /// values as lecun_uniform (an alias: Caffe's fan_in, C·kh·kw or the inputs, is Keras's).
    /// Not PyTorch's xavier_uniform, which is glorot_uniform.
    case caffeXavier = "caffe_xavier"
    /// Caffe's `msra` filler (FAN_IN): N(0, 2/fan_in), not truncated — unlike he_normal, which
    /// Keras draws from a normal truncated at ±2σ.
    case caffeMSRA = "caffe_msra"
    /// PyTorch's default for nn.Linear and nn.Conv2d, weights and biases alike:
    /// kaiming_uniform_(a=√5) = U(±1/√fan_in) (fan_in of the layer's kernel, for the bias too).
    /// Keras's VarianceScaling(scale=1/3, mode="fan_in", distribution="uniform").
    case pytorchDefault = "pytorch_default"

    /// Keras divides the truncated normal's stddev by this (the stddev of a unit normal truncated
    /// at ±2), so the drawn values have the intended variance.
    static let truncationCorrection: Float = 0.87962566103423978

    /// Fills `values` (fanIn/fanOut as Keras computes them for the tensor's shape).
    public func fill(_ values: FloatView, fanIn: Int, fanOut: Int, stream: inout RandomStream) {
        let fanIn = Float(max(1, fanIn)), fanOut = Float(max(1, fanOut))
        switch self {
        case .zeros: values.fill(0)
        case .ones: values.fill(1)
        case .glorotUniform: uniform(values, limit: (6 / (fanIn + fanOut)).squareRoot(), &stream)
        case .heUniform: uniform(values, limit: (6 / fanIn).squareRoot(), &stream)
        case .lecunUniform, .caffeXavier: uniform(values, limit: (3 / fanIn).squareRoot(), &stream)
        case .pytorchDefault: uniform(values, limit: 1 / fanIn.squareRoot(), &stream)
        case .glorotNormal: normal(values, stddev: (2 / (fanIn + fanOut)).squareRoot(), &stream)
        case .heNormal: normal(values, stddev: (2 / fanIn).squareRoot(), &stream)
        case .lecunNormal: normal(values, stddev: (1 / fanIn).squareRoot(), &stream)
        case .caffeMSRA:
            let stddev = (2 / fanIn).squareRoot()
            for i in 0..<values.count { values[i] = stream.nextNormal() * stddev }
        }
    }

    /// U(-limit, limit)
    private func uniform(_ values: FloatView, limit: Float, _ stream: inout RandomStream) {
        for i in 0..<values.count { values[i] = (stream.nextUniform() * 2 - 1) * limit }
    }

    /// Truncated normal with the given stddev after Keras's correction.
    private func normal(_ values: FloatView, stddev: Float, _ stream: inout RandomStream) {
        for i in 0..<values.count {
            values[i] = stream.nextTruncatedNormal(stddev: stddev / Initializer.truncationCorrection)
        }
    }
}
