// Kernels on stored UInt8 images: the pixel histogram behind standardisation, and data
// augmentation — a random shift, rotation and zoom per training image, computed straight from the
// stored bytes into the network's Float input (bilinear interpolation, zero fill) in one pass.
//
// Each image's geometry is drawn from one Philox block chosen by the image's place in the epoch,
// so it depends only on (seed, epoch, position): not on the thread count, not on what ran before.
// With AVX-512 the warp runs in Sources/CKernels/warp.c, 16 pixels a vector, the same bits.
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// counts[v] = how many pixels of the images `indices` (each `imageSize` bytes) have value v.
public func pixelHistogram(_ bytes: [UInt8], imageSize: Int, indices: [Int]) -> [Int] {
    var counts = [Int](repeating: 0, count: 256)
    bytes.withUnsafeBufferPointer { src in
        counts.withUnsafeMutableBufferPointer { c in
            for index in indices {
                precondition(index >= 0 && (index + 1) * imageSize <= src.count)
                let image = src.baseAddress! + index * imageSize
                for j in 0..<imageSize { c[Int(image[j])] += 1 }
            }
        }
    }
    return counts
}

/// The geometry of one augmented image. Forward, the image's content is scaled by 1/`zoom` about
/// the centre, rotated counter-clockwise (as displayed) by `angle` radians and moved `dx` pixels
/// right and `dy` pixels down. The kernel uses the inverse: each output pixel (r, c) reads the
/// source at
///
///     (x, y) = centre + zoom · R(−angle) · ((c, r) − centre − (dx, dy)),   centre = ((W−1)/2, (H−1)/2)
///
/// (`zoom` > 1 reads a wider area: the content shrinks, Keras RandomZoom's "zoom out").
public struct ImageWarp: Sendable, Equatable {
    public var angle: Double
    public var zoom: Double
    public var dx: Double
    public var dy: Double

    public init(angle: Double = 0, zoom: Double = 1, dx: Double = 0, dy: Double = 0) {
        self.angle = angle
        self.zoom = zoom
        self.dx = dx
        self.dy = dy
    }

    public static let identity = ImageWarp()

    /// The warp that one Philox block (four uniform words) picks: dx, dy uniform in
    /// ±maxShift·(width, height), angle uniform in ±maxDegrees, zoom 1 + uniform in ±maxZoom.
    public static func random(_ block: (UInt32, UInt32, UInt32, UInt32), rows: Int, cols: Int,
                              maxShift: Float, maxDegrees: Float, maxZoom: Float) -> ImageWarp {
        // Uniform in [−1, 1) from a 32-bit word.
        func symmetric(_ word: UInt32) -> Double { Double(word) * 0x1p-31 - 1 }
        return ImageWarp(angle: Double(maxDegrees) * .pi / 180 * symmetric(block.2),
                         zoom: 1 + Double(maxZoom) * symmetric(block.3),
                         dx: Double(maxShift) * Double(cols) * symmetric(block.0),
                         dy: Double(maxShift) * Double(rows) * symmetric(block.1))
    }
}

/// out[r, :] = warp(bytes[indices[r]]) · scale + shift for every image r of the batch, where the
/// warp of image r is `ImageWarp.random` of block (firstPosition + r) of `stream` — the stream
/// ("augment", index: epoch) and the image's place in the epoch. Images: (rows × cols) bytes.
public func gatherAugmented(_ bytes: [UInt8], rows: Int, cols: Int, indices: ArraySlice<Int>,
                            firstPosition: Int, stream: RandomStream, maxShift: Float, maxDegrees: Float,
                            maxZoom: Float, scale: Float, shift: Float, into out: FloatView,
                            pool: ThreadPool? = nil) {
    gatherWarped(bytes, rows: rows, cols: cols, indices: indices, scale: scale, shift: shift, into: out,
                 pool: pool) { r in
        ImageWarp.random(stream.block(UInt64(firstPosition + r)), rows: rows, cols: cols,
                         maxShift: maxShift, maxDegrees: maxDegrees, maxZoom: maxZoom)
    }
}

/// out[r, :] = warps[r](bytes[indices[r]]) · scale + shift, with explicitly given warps.
/// `code`: the loop (the portable Swift one, or AVX-512's: the same bits).
public func gatherWarped(_ bytes: [UInt8], rows: Int, cols: Int, indices: ArraySlice<Int>, warps: [ImageWarp],
                         scale: Float, shift: Float, into out: FloatView, pool: ThreadPool? = nil,
                         code: VectorCode = .best) {
    precondition(warps.count == indices.count)
    gatherWarped(bytes, rows: rows, cols: cols, indices: indices, scale: scale, shift: shift, into: out,
                 pool: pool, code: code) { warps[$0] }
}

/// Float(v) for every byte v: a table lookup is cheaper than four int-to-float conversions per
/// output pixel (each of which also stalls on the register it partly overwrites).
private let byteValues: [Float] = (0..<256).map { Float($0) }

/// The batch loop: fixed chunks of 8 images (independent of the thread count), one image per
/// output row, each written by exactly one chunk.
private func gatherWarped(_ bytes: [UInt8], rows: Int, cols: Int, indices: ArraySlice<Int>, scale: Float,
                          shift: Float, into out: FloatView, pool: ThreadPool?, code: VectorCode = .best,
                          warp: (Int) -> ImageWarp) {
    let size = rows * cols
    precondition(out.count >= indices.count * size)
    bytes.withUnsafeBufferPointer { src in
        indices.withUnsafeBufferPointer { idx in
            byteValues.withUnsafeBufferPointer { values in
                let n = idx.count
                forEach((n + 7) / 8, pool: pool) { chunk in
                    for r in (chunk * 8)..<min(n, chunk * 8 + 8) {
                        let sourceRow = idx[r]
                        precondition(sourceRow >= 0 && (sourceRow + 1) * size <= src.count)
                        warpImage(src.baseAddress! + sourceRow * size, rows: rows, cols: cols, warp: warp(r),
                                  scale: scale, shift: shift, values: values.baseAddress!,
                                  into: out.base + r * size, code: code)
                    }
                }
            }
        }
    }
}

/// One image: dst(r, c) = bilinear(src, x(r, c), y(r, c)) · scale + shift, reading 0 outside the
/// image (Keras's fill_mode "constant", fill_value 0 — the black background, before scaling).
private func warpImage(_ src: UnsafePointer<UInt8>, rows: Int, cols: Int, warp: ImageWarp, scale: Float,
                       shift: Float, values v: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                       code: VectorCode) {
    // x = a·c + b·r + e,  y = d·c + f·r + g   (the inverse map above, multiplied out in Double)
    let cx = Double(cols - 1) / 2, cy = Double(rows - 1) / 2
    let cosine = cos(warp.angle) * warp.zoom, sine = sin(warp.angle) * warp.zoom
    let u0 = cx + warp.dx, v0 = cy + warp.dy
    let a = Float(cosine), b = Float(-sine), e = Float(cx - (cosine * u0 - sine * v0))
    let d = Float(sine), f = Float(cosine), g = Float(cy - (sine * u0 + cosine * v0))
    if code == .avx512 && (rows + 2) * (cols + 2) <= 4_096 {
        ck_warp_image(src, Int32(rows), Int32(cols), a, b, e, d, f, g, scale, shift, dst)   // the same, 16 a vector
        return
    }
    @inline(__always) func pixel(_ y: Int, _ x: Int) -> Float {
        y >= 0 && y < rows && x >= 0 && x < cols ? v[Int(src[y &* cols &+ x])] : 0
    }
    let width = Float(cols), height = Float(rows)
    for r in 0..<rows {
        let fr = Float(r)
        let rowX = b * fr + e, rowY = f * fr + g
        for c in 0..<cols {
            let fc = Float(c)
            let x = a * fc + rowX, y = d * fc + rowY
            let value: Float
            if !(x > -1 && y > -1 && x < width && y < height) {
                value = 0                                               // all four neighbours outside
            } else {
                // ⌊x⌋ by truncation of a positive number (no floorf call): x + 1 > 0 here.
                let i = Int(x + 1) - 1, j = Int(y + 1) - 1
                let fx = x - Float(i), fy = y - Float(j)
                let p00: Float, p01: Float, p10: Float, p11: Float
                if i >= 0 && j >= 0 && i + 1 < cols && j + 1 < rows {
                    let p = src + (j &* cols &+ i)                      // interior: no bounds checks
                    (p00, p01, p10, p11) = (v[Int(p[0])], v[Int(p[1])], v[Int(p[cols])], v[Int(p[cols &+ 1])])
                } else {
                    (p00, p01, p10, p11) = (pixel(j, i), pixel(j, i + 1), pixel(j + 1, i), pixel(j + 1, i + 1))
                }
                let top = p00 + fx * (p01 - p00), bottom = p10 + fx * (p11 - p10)
                value = top + fy * (bottom - top)                       // bilinear
            }
            dst[r &* cols &+ c] = value * scale + shift
        }
    }
}
