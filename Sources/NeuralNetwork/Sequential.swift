// A stack of layers and all of the memory it trains in.
//
// Built once: shapes are chained and checked, then parameters, gradients, activations and
// scratch are allocated for the largest batch, and parameters are initialised from named streams.
// Afterwards forward/backward only move data between those buffers.
import Kernels

public final class Sequential {
    public let name: String
    public let inputShape: Shape
    public let layers: [any Layer]
    public let maxBatch: Int
    public let seed: UInt64

    /// Every trainable tensor, layer after layer, spec after spec.
    public let parameters: FloatStorage
    /// dL/dθ in the same layout as `parameters`.
    public let gradients: FloatStorage
    /// The runs of `gradients` that `zeroGradients` clears: the layers' that `backward` adds to.
    private let accumulatedGradients: [Range<Int>]
    /// Every non-trainable tensor (batch norm's moving statistics), in the same order.
    public let state: FloatStorage
    /// Where a batch's inputs go: (maxBatch, inputShape).
    public let input: FloatStorage
    /// Where the loss writes dL/d(output): (maxBatch, outputShape).
    public var outputGradient: FloatView { gradientBuffers[0].view(offset: 0, count: maxBatch * outputCount) }
    /// Where each tensor sits in `parameters`.
    public private(set) var parameterTable: [ParameterEntry]
    /// For each layer, the `parameterTable` index of the tensor it steps during backward when
    /// `backward` is given the optimizer (`Layer.stepsFirstTensorInBackward`), or nil.
    private let steppedInBackward: [Int?]
    /// The tensors (`parameterTable` entries) that `backward(batch:context:steps:)` has the layers
    /// step during the pass, in the order of its `steps`.
    public var tensorsSteppedInBackward: [ParameterEntry] { steppedInBackward.compactMap { $0.map { parameterTable[$0] } } }
    /// True when the final softmax has been handed to the loss: `forward` then returns logits.
    public private(set) var outputIsLogits = false

    public struct ParameterEntry: Sendable {
        public let layer: String
        public let name: String
        public let shape: [Int]
        /// Where it sits: in `parameters` when trainable, in `state` otherwise.
        public let trainable: Bool
        public let offset: Int
        /// The optimizer steps this tensor at its rate times this (Caffe's lr_mult; 1 unless a
        /// layer's kernel_lr_multiplier / bias_lr_multiplier says otherwise).
        public internal(set) var learningRateMultiplier: Float = 1
        public var count: Int { shape.reduce(1, *) }
    }

    private let outputs: [FloatView]
    /// The first layer with trainable parameters (the seed MLP's dense after flatten): backward
    /// ends there, without its dx.
    private let firstTrainable: Int
    private let gradientBuffers: [FloatStorage]
    private let storages: [FloatStorage]

    public var outputShape: Shape { layers.last?.outputShape ?? inputShape }
    public var outputCount: Int { outputShape.count }
    /// Trainable plus non-trainable values (Keras's "Total params").
    public var parameterCount: Int { parameters.count + state.count }
    public var trainableCount: Int { parameters.count }

    /// - Parameter layers: already built in order, each for the previous one's output shape.
    /// - Parameter fuse: let a convolution compute the 2×2 max pooling after it (`Conv2D.fuse`),
    ///   the same results up to the order of the bias gradient's sums, and a batch normalization
    ///   the ReLU after it (`BatchNormalization.fuse`) and a 2×2 max pooling after that (`fuse(pool:)`,
    ///   AVX-512), a convolution the input gradient of a batch normalization after it
    ///   (`Conv2D.fuse(gradientOf:)`, AVX-512), and a dense layer with a ReLU the dropout after it
    ///   (`Dense.fuse`), the same bits: passes over memory fewer.
    public init(name: String, inputShape: Shape, layers: [any Layer], maxBatch: Int, seed: UInt64,
                fuse: Bool = true) throws {
        precondition(maxBatch > 0)
        self.name = name
        self.inputShape = inputShape
        self.layers = layers
        self.maxBatch = maxBatch
        self.seed = seed

        var shape = inputShape
        var names = Set<String>()
        for (i, layer) in layers.enumerated() {
            guard layer.inputShape == shape else {
                throw ModelError(layerIndex: i, message:
                    "layer '\(layer.name)' expects \(layer.inputShape) but receives \(shape)")
            }
            guard names.insert(layer.name).inserted else {
                throw ModelError(layerIndex: i, message: "two layers are named '\(layer.name)'",
                                 hint: "layer names must be unique; rename one with `name:`")
            }
            shape = layer.outputShape
        }
        // The first layer with trainable parameters: backward ends there, and it alone needs no dx.
        let firstTrainable = layers.firstIndex { $0.parameterSpecs.contains(where: \.trainable) } ?? layers.count
        self.firstTrainable = firstTrainable
        if fuse {
            for (layer, next) in zip(layers, layers.dropFirst()) {
                if let conv = layer as? Conv2D, let pool = next as? Pooling2D, conv.canFuse(pool) {
                    conv.fuse(pool)
                    pool.markFused()
                }
                if let dense = layer as? Dense, let dropout = next as? Dropout, dense.canFuse(dropout) {
                    dense.fuse(dropout)
                }
                if let norm = layer as? BatchNormalization, let activation = next as? ActivationLayer,
                   norm.canFuse(activation) {
                    norm.fuse(activation)
                    activation.markFused()
                }
            }
            // Batch normalization → ReLU → 2×2 max pooling: the pooling runs in the first too.
            for (norm, pool) in zip(layers, layers.dropFirst(2)) {
                if let norm = norm as? BatchNormalization, let pool = pool as? Pooling2D, norm.canFuse(pool: pool) {
                    norm.fuse(pool: pool)
                    pool.markFused()
                }
            }
            // A convolution, then a batch normalization: where the convolution's path can, its
            // backward computes the normalization's input gradient as it reads it.
            for (i, (conv, norm)) in zip(layers, layers.dropFirst()).enumerated() {
                if let conv = conv as? Conv2D, let norm = norm as? BatchNormalization,
                   conv.canTakeGradient(of: norm, first: i == firstTrainable) {
                    conv.fuse(gradientOf: norm)
                }
            }
            // A batch normalization (and its fused ReLU), then a convolution: where the
            // convolution's path can, it applies the normalization as it reads its input, and the
            // normalization writes no output.
            for (i, layer) in layers.enumerated() {
                guard let norm = layer as? BatchNormalization else { continue }
                let next = i + (norm.appliesReLU ? 2 : 1)
                if next < layers.count, let conv = layers[next] as? Conv2D, conv.canApplyNormalization(of: norm) {
                    conv.fuse(inputOf: norm)
                }
            }
        }

        // Trainable tensors and their gradients: one flat block each; state tensors: another.
        var table: [ParameterEntry] = []
        var trainableTotal = 0, stateTotal = 0
        for layer in layers {
            for spec in layer.parameterSpecs {
                table.append(ParameterEntry(layer: layer.name, name: spec.name, shape: spec.shape,
                                            trainable: spec.trainable,
                                            offset: spec.trainable ? trainableTotal : stateTotal))
                if spec.trainable { trainableTotal += spec.count } else { stateTotal += spec.count }
            }
        }
        parameterTable = table
        // The first tensor of each layer that can have the optimizer step it during backward.
        var stepped: [Int?] = []
        for layer in layers {
            let first = table.firstIndex { $0.layer == layer.name }
            stepped.append(first.flatMap { layer.stepsFirstTensorInBackward && table[$0].trainable
                                           && table[$0].count > 0 ? $0 : nil })
        }
        steppedInBackward = stepped
        // The gradients of layers that add to theirs, as runs of the flat vector.
        let adding = Set(layers.filter { !$0.writesGradients }.map(\.name))
        var runs: [Range<Int>] = []
        for e in table where e.trainable && e.count > 0 && adding.contains(e.layer) {
            if let last = runs.last, last.upperBound == e.offset {
                runs[runs.count - 1] = last.lowerBound..<(e.offset + e.count)
            } else {
                runs.append(e.offset..<(e.offset + e.count))
            }
        }
        accumulatedGradients = runs
        parameters = FloatStorage(count: trainableTotal)
        gradients = FloatStorage(count: trainableTotal)
        state = FloatStorage(count: stateTotal)
        let noGradient = FloatStorage(count: 0)
        var entry = 0
        for layer in layers {
            var values: [FloatView] = [], grads: [FloatView] = []
            for spec in layer.parameterSpecs {
                let e = table[entry]
                if spec.trainable {
                    values.append(parameters.view(offset: e.offset, count: e.count))
                    grads.append(gradients.view(offset: e.offset, count: e.count))
                } else {
                    values.append(state.view(offset: e.offset, count: e.count))
                    grads.append(noGradient.view)
                }
                var stream = RandomStream(seed: seed, name: "init/\(layer.name)/\(spec.name)")
                spec.initializer.fill(values.last!, fanIn: spec.fanIn, fanOut: spec.fanOut, stream: &stream)
                entry += 1
            }
            layer.bind(parameters: values, gradients: grads)
        }

        // Activations: a buffer per layer, except layers that reinterpret their input (flatten)
        // or whose work the layer before them does (a pooling fused into its convolution).
        input = FloatStorage(count: maxBatch * inputShape.count)
        var owned: [FloatStorage] = []
        var outs: [FloatView] = []
        var previous = input.view
        var largest = max(inputShape.count, 1)
        for layer in layers {
            largest = max(largest, layer.outputShape.count)
            // A normalization that the convolution after applies leaves its input where it is.
            if layer.aliasesInput || (layer as? BatchNormalization)?.outputInNext == true {
                outs.append(previous)
            } else {
                let storage = FloatStorage(count: maxBatch * layer.outputShape.count)
                owned.append(storage)
                outs.append(storage.view)
            }
            previous = outs.last!
            if layer.scratchCount(batch: maxBatch) > 0 {
                let scratch = FloatStorage(count: layer.scratchCount(batch: maxBatch))
                owned.append(scratch)
                layer.bind(scratch: scratch.view)
            }
        }
        outputs = outs
        // Backward ping-pongs between two buffers big enough for any layer's gradient.
        gradientBuffers = [FloatStorage(count: maxBatch * largest), FloatStorage(count: maxBatch * largest)]
        storages = owned
    }

    /// Adapts the model's output to the loss: a loss on probabilities takes over the final softmax
    /// (the model then outputs logits); a loss on logits requires the model not to end in softmax.
    public func prepare(for loss: any Loss) throws {
        let last = layers.last as? any ActivatedLayer
        let lastIndex = layers.count - 1
        if loss.expectsProbabilities {
            guard let last, last.configuredActivation == .softmax else {
                let what = (layers.last as? any ActivatedLayer).map { "activation \($0.configuredActivation.rawValue)" }
                    ?? "a '\(layers.last?.kind ?? "missing")' layer"
                throw ModelError(layerIndex: layers.isEmpty ? nil : lastIndex, message:
                    "\(loss.name) expects probabilities, but the model ends with \(what)",
                    hint: "end the model with `activation: softmax`, or set `from_logits: true` on the loss")
            }
            last.detachActivation()
            outputIsLogits = true
        } else if let last, last.configuredActivation == .softmax {
            throw ModelError(layerIndex: lastIndex, message:
                "\(loss.name) has from_logits: true, but the model already ends with softmax",
                hint: "remove the softmax, or set `from_logits: false`")
        }
    }

    /// Runs the batch in `input` through every layer; returns the output (logits if the loss took
    /// over the softmax): (batch, outputShape).
    @discardableResult
    public func forward(batch n: Int, context: PassContext) -> FloatView {
        precondition(n > 0 && n <= maxBatch)
        var x = input.view
        for (i, layer) in layers.enumerated() {
            layer.forward(x: x, y: outputs[i], batch: n, context: context)
            x = outputs[i]
        }
        return x.slice(0, n * outputCount)
    }

    /// Back-propagates `outputGradient` (filled by the loss) through every layer, adding into
    /// `gradients`. Must follow `forward` of the same batch. Stops at the first layer with
    /// trainable parameters, which computes no dx: no layer before it needs one.
    ///
    /// With `steps` (the optimizer's update of each tensor in `tensorsSteppedInBackward`, in that
    /// order), each of those tensors is stepped during the pass, part by part as its gradient is
    /// final; the caller steps the other tensors after.
    public func backward(batch n: Int, context: PassContext, steps: [ParameterStep]? = nil) {
        var current = 0, stepped = steppedInBackward.count { $0 != nil }
        precondition(steps == nil || steps!.count == stepped)
        for i in stride(from: layers.count - 1, through: firstTrainable, by: -1) {
            let layer = layers[i]
            let x = i == 0 ? input.view : outputs[i - 1]
            let dy = gradientBuffers[current].view
            if layer.aliasesInput { continue }
            let dx: FloatView? = i == firstTrainable ? nil : gradientBuffers[1 - current].view
            var context = context
            if steppedInBackward[i] != nil {
                stepped -= 1                                    // layers run last to first
                context.firstTensorStep = steps?[stepped]
            }
            layer.backward(x: x, y: outputs[i], dy: dy, dx: dx, batch: n, context: context)
            // A layer whose dx the layer before computes leaves its dy for it to read from: that
            // layer's own dx must go to the other buffer.
            if !layer.inputGradientInPrevious { current = 1 - current }
        }
    }

    /// Every value the model's output depends on — trainable parameters, then state — as bytes
    /// (little-endian float32). The weight hash is the SHA-256 of this.
    public func withWeightBytes<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try parameters.withBytes { p in try state.withBytes { s in try body(p, s) } }
    }

    /// Steps the trainable tensor `parameter` of layer `layer` at `multiplier` times the rate.
    public func setLearningRateMultiplier(_ multiplier: Float, layer: String, parameter: String) {
        guard let i = parameterTable.firstIndex(where: { $0.layer == layer && $0.name == parameter && $0.trainable }) else {
            preconditionFailure("no trainable tensor '\(parameter)' in layer '\(layer)'")
        }
        parameterTable[i].learningRateMultiplier = multiplier
    }

    /// Sets to zero the gradients `backward` adds to — every layer's but those that write theirs
    /// (`writesGradients`) — the trainer's explicit step before each backward.
    public func zeroGradients(pool: ThreadPool? = nil) {
        for run in accumulatedGradients { zero(gradients.view(offset: run.lowerBound, count: run.count), pool: pool) }
    }
}
