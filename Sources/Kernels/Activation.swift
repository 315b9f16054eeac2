// Activation functions on (rows × cols) matrices, forward in place and backward in place.
// Backward is written in terms of the forward *output* y, so layers keep only y.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The activations a layer can apply (Keras names).
public enum Activation: String, CaseIterable, Sendable, Codable {
    case linear, relu, sigmoid, tanh, softmax

    /// y = f(y) in place; softmax is taken along each row.
    public func forward(_ y: FloatView, rows: Int, cols: Int) {
        precondition(y.count >= rows * cols)
        let p = y.base, count = rows * cols
        switch self {
        case .linear:
            break
        case .relu:
            // y = max(0, y)
            for i in 0..<count { p[i] = p[i] < 0 ? 0 : p[i] }          // a select, so it vectorises
        case .sigmoid:
            // y = 1 / (1 + e^-y)
            for i in 0..<count { p[i] = 1 / (1 + expf(-p[i])) }
        case .tanh:
            for i in 0..<count { p[i] = tanhf(p[i]) }
        case .softmax:
            for r in 0..<rows { _ = softmaxRow(p + r * cols, into: p + r * cols, cols: cols) }
        }
    }

    /// dy = dL/dy  →  dL/dx in place, given the forward output y.
    public func backward(y: FloatView, dy: FloatView, rows: Int, cols: Int) {
        precondition(y.count >= rows * cols && dy.count >= rows * cols)
        let y = y.base, d = dy.base, count = rows * cols
        switch self {
        case .linear:
            break
        case .relu:
            // f'(x) = 1 where x > 0, i.e. where y > 0; the kink at 0 takes the derivative 0.
            // Eight at a time with a select: the scalar `y > 0 ? d : 0` compiled to a branch
            // on the sign, which a ReLU's outputs make unpredictable (1.5% of a LeNet-5 run's
            // profile samples, serial on the calling thread).
            let vectors = count / 8, yr = UnsafeRawPointer(y), dr = UnsafeMutableRawPointer(d)
            for offset in stride(from: 0, to: vectors * 32, by: 32) {
                let g = dr.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                let out = yr.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                dr.storeBytes(of: SIMD8<Float>().replacing(with: g, where: out .> 0), toByteOffset: offset,
                              as: SIMD8<Float>.self)
            }
            for i in vectors * 8..<count { d[i] = y[i] > 0 ? d[i] : 0 }
        case .sigmoid:
            // f' = y (1 - y)
            for i in 0..<count { d[i] *= y[i] * (1 - y[i]) }
        case .tanh:
            // f' = 1 - y²
            for i in 0..<count { d[i] *= 1 - y[i] * y[i] }
        case .softmax:
            // dx_j = y_j (dy_j - Σ_k dy_k y_k)
            for r in 0..<rows {
                let yr = y + r * cols, dr = d + r * cols
                var dot: Float = 0
                for j in 0..<cols { dot += dr[j] * yr[j] }
                for j in 0..<cols { dr[j] = yr[j] * (dr[j] - dot) }
            }
        }
    }
}

/// p_j = e^(z_j - max) / Σ_k e^(z_k - max) for one row (z and p may be the same memory); returns
/// max and log Σ_k e^(z_k - max), from which log p_j = z_j - max - log Σ follows without log(0).
/// Subtracting the row's max keeps every exponent ≤ 0, so nothing overflows.
@inline(__always)
func softmaxRow(_ z: UnsafeMutablePointer<Float>, into p: UnsafeMutablePointer<Float>, cols: Int)
    -> (max: Float, logSum: Float) {
    var top = z[0]
    for j in 1..<cols where z[j] > top { top = z[j] }
    var total: Float = 0
    for j in 0..<cols {
        p[j] = expf(z[j] - top)
        total += p[j]
    }
    let inverse = 1 / total
    for j in 0..<cols { p[j] *= inverse }
    return (top, logf(total))
}
