// The Layer protocol: what the model asks of every layer, forward and backward side by side.
//
// Memory: every tensor is a batch-first contiguous (N, features…) block of Floats. The model owns
// all of it — parameters, gradients, activations, scratch — and hands layers views when it is
// built; layers allocate nothing while training.
import Kernels

/// One tensor a layer declares; the model allocates and initialises it. Trainable tensors
/// (kernels, biases) get gradients and optimizer updates; the others (batch norm's moving
/// statistics) are state the layer updates itself.
public struct ParameterSpec: Sendable {
    public let name: String            // "kernel", "bias", "moving_mean"
    public let shape: [Int]
    public let initializer: Initializer
    /// Fan-in and fan-out for scaled initialisers (Glorot, He).
    public let fanIn: Int
    public let fanOut: Int
    public let trainable: Bool

    public init(name: String, shape: [Int], initializer: Initializer, fanIn: Int = 1, fanOut: Int = 1,
                trainable: Bool = true) {
        self.name = name
        self.shape = shape
        self.initializer = initializer
        self.fanIn = fanIn
        self.fanOut = fanOut
        self.trainable = trainable
    }

    public var count: Int { shape.reduce(1, *) }
}

/// What a forward or backward pass needs beyond its tensors.
public struct PassContext: Sendable {
    /// Training mode (dropout active, batch statistics) or inference.
    public let training: Bool
    /// The experiment's seed and the optimizer step being computed: dropout draws its mask from
    /// the stream ("dropout/<layer>", index: step), so a step's randomness is a function of these.
    public let seed: UInt64
    public let step: UInt64
    public let pool: ThreadPool?
    /// In a training step whose optimizer runs during the backward pass: the rule for this layer's
    /// first tensor (see `Layer.stepsFirstTensorInBackward`); nil otherwise. Set by the model.
    public internal(set) var firstTensorStep: ParameterStep?

    public init(training: Bool, seed: UInt64 = 0, step: UInt64 = 0, pool: ThreadPool? = nil) {
        self.training = training
        self.seed = seed
        self.step = step
        self.pool = pool
    }
}

/// The optimizer's update of a range of elements of one tensor (offsets within the tensor, in
/// its row-major order), for a layer to run as soon as that range's gradient is final. It runs
/// on the calling thread only; calls on disjoint ranges may run on different threads at once.
/// Every optimizer's rule is element by element, so which ranges and which threads cannot change
/// a bit of the result.
public final class ParameterStep: @unchecked Sendable {
    private let body: (Range<Int>) -> Void
    public init(_ body: @escaping (Range<Int>) -> Void) { self.body = body }
    public func callAsFunction(_ elements: Range<Int>) { body(elements) }
}

public protocol Layer: AnyObject {
    /// The Keras class name shown in summaries: "Dense", "Flatten", …
    var kind: String { get }
    /// Unique within the model: "dense", "dense_1", … or the name given in the experiment file.
    var name: String { get set }
    var inputShape: Shape { get }
    var outputShape: Shape { get }
    /// The layer's parameters after defaults, as the resolved experiment shows them.
    var configuration: any Encodable & Sendable { get }

    /// Tensors to allocate for this layer, in order.
    var parameterSpecs: [ParameterSpec] { get }
    /// Receives one value view and one gradient view per spec, once, when the model is built
    /// (a non-trainable spec's gradient view is empty).
    func bind(parameters: [FloatView], gradients: [FloatView])
    /// Floats per sample of training-time scratch (e.g. a dropout mask).
    var scratchPerSample: Int { get }
    /// Floats of scratch independent of the batch (e.g. a transformed kernel).
    var scratchFixed: Int { get }
    /// Receives `scratchCount(batch: maxBatch)` floats once: the per-sample part for the largest
    /// batch, then the fixed part.
    func bind(scratch: FloatView)
    /// True when the output is the input's memory reinterpreted (flatten): no buffer, no copy.
    var aliasesInput: Bool { get }
    /// True when the layer before computes this layer's input gradient where it reads it (a batch
    /// normalization after a convolution): `backward` then leaves dx unwritten, and the model
    /// keeps this layer's dy where it is for the layer before.
    var inputGradientInPrevious: Bool { get }
    /// True when `backward` sets its gradients (`=`) rather than adding to them: the model then
    /// leaves them out of the zeroing before a backward (for a dense layer, a pass over its
    /// kernel gradient and the product's read of it).
    var writesGradients: Bool { get }
    /// True when `backward`, given `context.firstTensorStep`, runs it over every element of its
    /// first tensor exactly once, after that tensor's gradient is final and after the last read of
    /// its values in the pass: the optimizer then steps that tensor during the backward pass, while
    /// its gradient is still in cache, instead of in a pass of its own after it.
    var stepsFirstTensorInBackward: Bool { get }
    /// How the layer computes, for reports ("im2col", "winograd-f4x4", "gemm", …), when it picks
    /// among ways when the model is built; nil for layers with one way.
    var pathName: String? { get }

    /// x: (N, inputShape) → y: (N, outputShape)
    func forward(x: FloatView, y: FloatView, batch: Int, context: PassContext)
    /// dy = dL/dy (the layer may overwrite it). Adds dL/dθ into the gradient views (`+=`; the
    /// trainer zeroes them) — or, with `writesGradients`, writes it there — and writes dL/dx into
    /// `dx` unless it is nil (the model's first layer).
    func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch: Int,
                  context: PassContext)
}

extension Layer {
    public var parameterSpecs: [ParameterSpec] { [] }
    public func bind(parameters: [FloatView], gradients: [FloatView]) {}
    public var scratchPerSample: Int { 0 }
    public var scratchFixed: Int { 0 }
    public func bind(scratch: FloatView) {}
    /// Scratch floats for batches of up to `batch` samples.
    public func scratchCount(batch: Int) -> Int { batch * scratchPerSample + scratchFixed }
    public var aliasesInput: Bool { false }
    public var writesGradients: Bool { false }
    public var stepsFirstTensorInBackward: Bool { false }
    public var inputGradientInPrevious: Bool { false }
    public var pathName: String? { nil }
    /// Trainable and non-trainable values together, as Keras's summary counts them.
    public var parameterCount: Int { parameterSpecs.reduce(0) { $0 + $1.count } }
}

/// A layer whose last step is an activation the loss may take over (softmax + cross-entropy are
/// fused into one numerically stable step on the logits).
public protocol ActivatedLayer: Layer {
    /// The activation as configured.
    var configuredActivation: Activation { get }
    /// Makes the layer stop before its activation (it then outputs logits).
    func detachActivation()
}
