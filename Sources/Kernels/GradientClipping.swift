// Gradient clipping over the tensors of one flat vector (Keras's clipnorm, global_clipnorm and
// clipvalue). A tensor's squared norm is summed in fixed chunks of at most 4,096 elements that
// never cross a tensor boundary, and the chunk sums are added in order: the same norm, to the
// last bit, whatever the thread count.

/// Σx² of each tensor of a flat vector, with its chunking and scratch made once (when training
/// starts), so that measuring in a training step allocates nothing.
public final class TensorNorms: @unchecked Sendable {
    /// The tensors, as ranges of the flat vector.
    public let tensors: [Range<Int>]
    /// (tensor, elements) of every chunk, tensor after tensor.
    private let chunks: [(tensor: Int, range: Range<Int>)]
    private let sums: PartialSums
    private let squared: UnsafeMutablePointer<Double>

    public init(tensors: [Range<Int>]) {
        self.tensors = tensors
        var chunks: [(tensor: Int, range: Range<Int>)] = []
        for (t, range) in tensors.enumerated() {
            var start = range.lowerBound
            while start < range.upperBound {
                chunks.append((t, start..<min(range.upperBound, start + 4_096)))
                start += 4_096
            }
        }
        self.chunks = chunks
        sums = PartialSums(capacity: chunks.count)
        squared = .allocate(capacity: max(1, tensors.count))
        squared.initialize(repeating: 0, count: max(1, tensors.count))
    }

    deinit { squared.deallocate() }

    /// Measures Σx² of every tensor of `x` (read with `squaredNorm`).
    public func measure(_ x: FloatView, pool: ThreadPool?) {
        precondition(x.count >= (tensors.last?.upperBound ?? 0))
        let xp = x.base, partial = sums.base
        chunks.withUnsafeBufferPointer { chunks in
            forEach(chunks.count, pool: pool) { c in partial[c] = squareSum(xp, chunks[c].range) }
        }
        for t in tensors.indices { squared[t] = 0 }
        for (c, chunk) in chunks.enumerated() { squared[chunk.tensor] += partial[c] }  // chunk by chunk, in order
    }

    /// Σx² of tensor `t` at the last `measure`.
    public func squaredNorm(_ t: Int) -> Double { squared[t] }

    /// Σ over the tensors of Σx² (Keras's global_norm², tensor by tensor in order).
    public var totalSquaredNorm: Double {
        var total = 0.0
        for t in tensors.indices { total += squared[t] }
        return total
    }
}

/// x ← x·s on every element (a clipped tensor).
public func scale(_ x: FloatView, by s: Float, pool: ThreadPool?) {
    let xp = x.base
    forEachChunk(x.count, pool: pool) { range in
        for i in range { xp[i] *= s }
    }
}

/// x ← min(max(x, −limit), limit) on every element (Keras's clipvalue); NaN stays NaN.
public func clamp(_ x: FloatView, limit: Float, pool: ThreadPool?) {
    let xp = x.base
    forEachChunk(x.count, pool: pool) { range in
        for i in range where abs(xp[i]) > limit { xp[i] = xp[i] > 0 ? limit : -limit }
    }
}
