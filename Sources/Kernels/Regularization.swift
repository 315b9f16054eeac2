// Weight penalties (Keras's kernel_regularizer) over one flat tensor: the penalty's value for the
// reported loss and its gradient, in one pass. Sums are split into the fixed 4,096-element chunks
// of `forEachChunk` and added chunk by chunk in order, so the value is the same whatever the
// thread count, pool or no pool.

/// Scratch for per-chunk partial sums, allocated once (when a trainer is made), so that a
/// training step allocates nothing.
public final class PartialSums: @unchecked Sendable {
    public let capacity: Int
    let base: UnsafeMutablePointer<Double>

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
        base.initialize(repeating: 0, count: self.capacity)
    }

    deinit { base.deallocate() }

    /// The partial sums a tensor of `count` elements needs (one per `forEachChunk` slice).
    public static func chunks(for count: Int) -> Int { max(1, (count + 4_095) / 4_096) }
}

/// Keras's L2 regularizer on `weights`: returns λ·Σw² and, when `gradients` is given, adds its
/// gradient 2λ·w into them (`g += 2λ·w`; backward accumulates, the trainer zeroes).
public func l2Penalty(weights w: FloatView, gradients g: FloatView?, lambda: Float, partials: PartialSums,
                      pool: ThreadPool?) -> Double {
    precondition(g == nil || g!.count == w.count)
    let chunks = PartialSums.chunks(for: w.count)
    precondition(partials.capacity >= chunks, "PartialSums too small: \(partials.capacity) < \(chunks)")
    let wp = w.base, gp = g?.base, sums = partials.base
    let twice = 2 * lambda
    // Always per chunk (also without a pool), so the sum has the same grouping whoever computes it.
    forEach(chunks, pool: pool) { chunk in
        let range = (chunk * 4_096)..<min(w.count, (chunk + 1) * 4_096)
        sums[chunk] = squareSum(wp, range, adding: twice, into: gp)
    }
    var total = 0.0
    for chunk in 0..<chunks { total += sums[chunk] }
    return Double(lambda) * total                                       // λ·Σw²
}

/// Σx² over `range` of `xp` — eight lanes in Float (vectorised), then in Double — and, when `gp` is
/// given, g += twice·x on the same elements in the same pass (the L2 penalty's gradient).
@inline(__always)
func squareSum(_ xp: UnsafeMutablePointer<Float>, _ range: Range<Int>, adding twice: Float = 0,
               into gp: UnsafeMutablePointer<Float>? = nil) -> Double {
    var lanes = SIMD8<Float>()
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        let x = UnsafeRawPointer(xp + i).loadUnaligned(as: SIMD8<Float>.self)
        lanes += x * x                                                  // Σ x²
        if let gp {
            let d = UnsafeRawPointer(gp + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(gp + i).storeBytes(of: d + twice * x, as: SIMD8<Float>.self)  // g += 2λ·x
        }
        i += 8
    }
    var tail: Float = 0
    while i < range.upperBound {
        tail += xp[i] * xp[i]
        if let gp { gp[i] += twice * xp[i] }
        i += 1
    }
    return Double(lanes.sum()) + Double(tail)
}
