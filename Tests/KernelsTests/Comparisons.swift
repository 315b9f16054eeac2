// How far apart two results are, as the kernel tests measure it (against a Float result or a
// reference computed in Double).

/// The largest |p − q| relative to max(1, |q|), element by element.
func worstRelative(_ p: [Float], _ q: [Float]) -> Float {
    zip(p, q).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
}

/// The largest |p − q| relative to the largest |q| (at least 1): for results whose small elements
/// carry the rounding of the large ones (Winograd, reordered sums).
func worstScaled(_ p: [Float], _ q: [Float]) -> Float {
    (zip(p, q).map { abs($0 - $1) }.max() ?? 0) / max(1, q.map(abs).max() ?? 0)
}

/// |p − q| / max(1, |q|) for each element, against a reference computed in Double.
func relativeErrors(_ p: [Float], _ q: [Double]) -> [Double] {
    zip(p, q).map { abs(Double($0) - $1) / max(1, abs($1)) }
}

/// The largest of `relativeErrors`.
func worstRelative(_ p: [Float], _ q: [Double]) -> Double { relativeErrors(p, q).max() ?? 0 }

/// The largest |p − q| relative to the largest |q| (at least 1), against a reference in Double.
func worstScaled(_ p: [Float], _ q: [Double]) -> Double {
    (zip(p, q).map { abs(Double($0) - $1) }.max() ?? 0) / max(1, q.map(abs).max() ?? 0)
}
