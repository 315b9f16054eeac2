// Pooling kernels over (N, H, W, C) images (layout and window rules: Convolution.swift). Padding
// is never a value here: max pooling takes the largest real element of a window, average pooling
// divides by the number of real elements (as Keras and TensorFlow do with `same` padding).
// One chunk per sample; every window is reduced in scan order (rows, then columns).

/// Runs `body(output offset, first/last window row, first/last window column)` for every output
/// position of one sample, in order; the ranges are clipped to the image.
@inline(__always)
private func forEachWindow(_ g: Window2D, _ body: (Int, Range<Int>, Range<Int>) -> Void) {
    var out = 0
    for oh in 0..<g.outHeight {
        let top = oh * g.strideHeight - g.padTop
        let rows = max(0, top)..<min(g.height, top + g.kernelHeight)
        for ow in 0..<g.outWidth {
            let left = ow * g.strideWidth - g.padLeft
            body(out, rows, max(0, left)..<min(g.width, left + g.kernelWidth))
            out += g.channels
        }
    }
}

/// y[n, oh, ow, c] = max over the window of x[n, ·, ·, c]; argmax (N, OH, OW, C) receives the
/// position of that element within its sample, h·W·C + w·C + c, stored as the bits of an Int32.
/// Ties go to the first element in scan order (top row first, left to right): the comparison is
/// strict, so a later equal value never replaces an earlier one.
public func maxPoolForward(x: FloatView, y: FloatView, argmax: FloatView, window g: Window2D, batch n: Int,
                           pool: ThreadPool?) {
    let outCount = g.positions * g.channels
    precondition(x.count >= n * g.inputCount && y.count >= n * outCount && argmax.count >= n * outCount)
    precondition(g.inputCount <= Int(Int32.max))
    let c = g.channels, xp = x.base, yp = y.base
    argmax.base.withMemoryRebound(to: Int32.self, capacity: argmax.count) { ap in
        forEach(n, pool: pool) { s in
            let image = xp + s * g.inputCount
            let ys = yp + s * outCount, args = ap + s * outCount
            forEachWindow(g) { out, rows, columns in
                let best = ys + out, at = args + out
                let start = (rows.lowerBound * g.width + columns.lowerBound) * c
                // 16 channels at a time with vector selects, then the remaining channels one by one.
                var k = 0
                while k + 16 <= c {
                    var top = UnsafeRawPointer(image + start + k).loadUnaligned(as: SIMD16<Float>.self)
                    var taken = lanes &+ Int32(start + k)
                    for h in rows {
                        for w in columns {
                            let offset = (h &* g.width &+ w) &* c &+ k
                            let v = UnsafeRawPointer(image + offset).loadUnaligned(as: SIMD16<Float>.self)
                            let larger = v .> top
                            top.replace(with: v, where: larger)
                            taken.replace(with: lanes &+ Int32(offset), where: larger)
                        }
                    }
                    UnsafeMutableRawPointer(best + k).storeBytes(of: top, as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(at + k).storeBytes(of: taken, as: SIMD16<Int32>.self)
                    k += 16
                }
                for k in k..<c {
                    var top = image[start + k], taken = Int32(start + k)
                    for h in rows {
                        for w in columns {
                            let offset = (h &* g.width &+ w) &* c &+ k
                            if image[offset] > top {
                                top = image[offset]
                                taken = Int32(offset)
                            }
                        }
                    }
                    best[k] = top
                    at[k] = taken
                }
            }
        }
    }
}

private let lanes = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)

/// dx[n, argmax] += dy[n, ·]: each output's gradient goes to the element it took, added in output
/// order (windows may overlap when strides are smaller than the pool).
public func maxPoolBackward(dy: FloatView, argmax: FloatView, dx: FloatView, window g: Window2D, batch n: Int,
                            pool: ThreadPool?) {
    let outCount = g.positions * g.channels
    precondition(dx.count >= n * g.inputCount && dy.count >= n * outCount && argmax.count >= n * outCount)
    let dxp = dx.base, dyp = dy.base
    if g.strideHeight == g.kernelHeight && g.strideWidth == g.kernelWidth && g.padTop == 0 && g.padLeft == 0 {
        disjointMaxPoolBackward(dy: dyp, argmax: argmax.base, dx: dxp, window: g, batch: n, pool: pool)
        return
    }
    argmax.base.withMemoryRebound(to: Int32.self, capacity: argmax.count) { ap in
        forEach(n, pool: pool) { s in
            let image = dxp + s * g.inputCount
            image.update(repeating: 0, count: g.inputCount)
            let d = dyp + s * outCount, args = ap + s * outCount
            for o in 0..<outCount { image[Int(args[o])] += d[o] }
        }
    }
}

/// `maxPoolBackward` for windows that tile the image without overlapping (stride = pool size, no
/// padding): every element of a window is written once, dy where it was the maximum and 0
/// elsewhere, so dx needs no zeroing pass and no scattered adds (the same values: each element
/// receives at most one gradient; dy itself, where a scattered add gave 0 + dy, so −0 stays −0 as in
/// the fused layers' backward). Only the rows and columns no window covers are zeroed. Any channel
/// count: 8 channels a vector, the rest one by one.
private func disjointMaxPoolBackward(dy: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>, window g: Window2D, batch n: Int,
                                     pool: ThreadPool?) {
    let c = g.channels, outCount = g.positions * c, line = g.width * c
    let coveredRows = g.outHeight * g.kernelHeight, coveredColumns = g.outWidth * g.kernelWidth
    let lanes8 = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
    argmax.withMemoryRebound(to: Int32.self, capacity: n * outCount) { ap in
        forEach(n, pool: pool) { s in
            let image = dx + s * g.inputCount, d = dy + s * outCount, args = ap + s * outCount
            for oh in 0..<g.outHeight {
                for ow in 0..<g.outWidth {
                    let out = (oh * g.outWidth + ow) * c
                    var k = 0
                    while k + 8 <= c {
                        let taken = UnsafeRawPointer(args + out + k).loadUnaligned(as: SIMD8<Int32>.self)
                        let grad = UnsafeRawPointer(d + out + k).loadUnaligned(as: SIMD8<Float>.self)
                        for i in 0..<g.kernelHeight {
                            for j in 0..<g.kernelWidth {
                                let offset = ((oh * g.kernelHeight + i) * g.width + ow * g.kernelWidth + j) * c + k
                                let v = SIMD8<Float>(repeating: 0)
                                    .replacing(with: grad, where: taken .== lanes8 &+ Int32(offset))
                                UnsafeMutableRawPointer(image + offset).storeBytes(of: v, as: SIMD8<Float>.self)
                            }
                        }
                        k += 8
                    }
                    for k in k..<c {
                        for i in 0..<g.kernelHeight {
                            for j in 0..<g.kernelWidth {
                                let offset = ((oh * g.kernelHeight + i) * g.width + ow * g.kernelWidth + j) * c + k
                                image[offset] = Int(args[out + k]) == offset ? d[out + k] : 0
                            }
                        }
                    }
                }
            }
            // What no window covers: the right-hand columns of covered rows, then the bottom rows.
            if coveredColumns < g.width {
                for h in 0..<coveredRows {
                    (image + h * line + coveredColumns * c).update(repeating: 0, count: (g.width - coveredColumns) * c)
                }
            }
            if coveredRows < g.height {
                (image + coveredRows * line).update(repeating: 0, count: (g.height - coveredRows) * line)
            }
        }
    }
}

/// y[n, oh, ow, c] = (Σ over the window's real elements of x[n, ·, ·, c]) / their count.
public func averagePoolForward(x: FloatView, y: FloatView, window g: Window2D, batch n: Int, pool: ThreadPool?) {
    let outCount = g.positions * g.channels
    precondition(x.count >= n * g.inputCount && y.count >= n * outCount)
    let c = g.channels, xp = x.base, yp = y.base
    forEach(n, pool: pool) { s in
        let image = xp + s * g.inputCount, ys = yp + s * outCount
        forEachWindow(g) { out, rows, columns in
            let sum = ys + out
            sum.update(repeating: 0, count: c)
            for h in rows {
                for w in columns {
                    let row = image + (h * g.width + w) * c
                    for k in 0..<c { sum[k] += row[k] }
                }
            }
            let count = Float(rows.count * columns.count)
            for k in 0..<c { sum[k] /= count }
        }
    }
}

/// dx[n, h, w, c] = Σ over the windows holding (h, w) of dy[n, oh, ow, c] / that window's count.
public func averagePoolBackward(dy: FloatView, dx: FloatView, window g: Window2D, batch n: Int, pool: ThreadPool?) {
    let outCount = g.positions * g.channels
    precondition(dx.count >= n * g.inputCount && dy.count >= n * outCount)
    let c = g.channels, dxp = dx.base, dyp = dy.base
    forEach(n, pool: pool) { s in
        let image = dxp + s * g.inputCount, d = dyp + s * outCount
        image.update(repeating: 0, count: g.inputCount)
        forEachWindow(g) { out, rows, columns in
            let scale = 1 / Float(rows.count * columns.count)
            let grad = d + out
            for h in rows {
                for w in columns {
                    let row = image + (h * g.width + w) * c
                    for k in 0..<c { row[k] += grad[k] * scale }
                }
            }
        }
    }
}

/// y[n, c] = (Σ_{h,w} x[n, h, w, c]) / (H·W), summed in scan order — x: (N, P, C) with P = H·W.
public func globalAveragePoolForward(x: FloatView, y: FloatView, positions p: Int, channels c: Int, batch n: Int,
                                     pool: ThreadPool?) {
    precondition(x.count >= n * p * c && y.count >= n * c)
    let xp = x.base, yp = y.base, count = Float(p)
    forEach(n, pool: pool) { s in
        let sum = yp + s * c, image = xp + s * p * c
        sum.update(repeating: 0, count: c)
        for position in 0..<p {
            let row = image + position * c
            for k in 0..<c { sum[k] += row[k] }
        }
        for k in 0..<c { sum[k] /= count }
    }
}

/// dx[n, h, w, c] = dy[n, c] / (H·W)
public func globalAveragePoolBackward(dy: FloatView, dx: FloatView, positions p: Int, channels c: Int, batch n: Int,
                                      pool: ThreadPool?) {
    precondition(dx.count >= n * p * c && dy.count >= n * c)
    let dxp = dx.base, dyp = dy.base, scale = 1 / Float(p)
    forEach(n, pool: pool) { s in
        let grad = dyp + s * c, image = dxp + s * p * c
        for position in 0..<p {
            let row = image + position * c
            for k in 0..<c { row[k] = grad[k] * scale }
        }
    }
}
