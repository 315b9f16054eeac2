// Dropout (inverted): in training, each element is zeroed with probability `rate` and the rest are
// scaled by 1/(1-rate); in evaluation it passes values through. Works on any rank.
import Kernels

public final class Dropout: Layer {
    /// `- type: dropout` parameters.
    public struct Config: Codable, Sendable {
        /// Fraction of elements to drop, in [0, 1). Required.
        public var rate: Float
        public init(rate: Float) { self.rate = rate }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rate = try c.decode(.rate, expected: "in [0, 1)") { (r: Float) in r >= 0 && r < 1 }
        }
    }

    public let kind = "Dropout"
    public var name: String
    public let inputShape: Shape
    public var outputShape: Shape { inputShape }
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    private var mask: FloatView?
    /// The stream ("dropout/<name>") of the last seed seen, so a step only re-indexes it (no string
    /// building or hashing in the training step).
    private var stream: (seed: UInt64, name: String, stream: RandomStream)?

    public init(_ config: Config, inputShape: Shape, name: String = "dropout") {
        self.config = config
        self.name = name
        self.inputShape = inputShape
    }

    /// True when the dense layer before applies the mask in its activation's pass (`Dense.fuse`):
    /// this layer's output is then that layer's output memory, its passes do nothing, and no
    /// mask is kept (the dense layer's backward tells kept elements by its output).
    public private(set) var fusedIntoPrevious = false
    public var aliasesInput: Bool { fusedIntoPrevious }
    func markFused() { fusedIntoPrevious = true }
    /// "in-dense" when the dense layer before applies it.
    public var pathName: String? { fusedIntoPrevious ? "in-dense" : nil }

    public var scratchPerSample: Int { fusedIntoPrevious ? 0 : inputShape.count }
    public func bind(scratch: FloatView) { mask = scratch }

    /// This step's draw: nil outside training or at rate 0 (the layer then passes values through).
    func draw(_ context: PassContext) -> DropoutDraw? {
        guard context.training && config.rate > 0 else { return nil }
        // A fresh sub-stream per step: the mask depends on (seed, layer name, step) only.
        if stream?.seed != context.seed || stream?.name != name {
            stream = (context.seed, name, RandomStream(seed: context.seed, name: "dropout/" + name))
        }
        return DropoutDraw(rate: config.rate, stream: stream!.stream.indexed(context.step))
    }

    public func forward(x: FloatView, y: FloatView, batch n: Int, context: PassContext) {
        if fusedIntoPrevious { return }
        let count = n * inputShape.count
        if let draw = draw(context) {
            dropoutForward(x: x, y: y, mask: mask!, count: count, rate: draw.rate, stream: draw.stream,
                           pool: context.pool)
        } else {
            y.slice(0, count).copy(from: x.slice(0, count))
        }
    }

    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch n: Int,
                         context: PassContext) {
        guard let dx, !fusedIntoPrevious else { return }
        let count = n * inputShape.count
        if context.training && config.rate > 0 {
            dropoutBackward(dy: dy, mask: mask!, into: dx, count: count, pool: context.pool)   // dx = dy ⊙ mask
        } else {
            dx.slice(0, count).copy(from: dy.slice(0, count))
        }
    }
}
