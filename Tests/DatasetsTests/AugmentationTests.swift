// The augmentation kernel: a function of (seed, epoch, position) only, bilinear with zero fill,
// exact when nothing moves, a known shift moving a known pixel, rotation and zoom in Keras's
// directions, and the same bits on any number of threads.
import Datasets
import Kernels
import Testing

/// `count` images of rows×cols random bytes.
func noise(count: Int, rows: Int = 28, cols: Int = 28, seed: UInt64 = 1) -> ImageSet {
    var stream = RandomStream(seed: seed, name: "noise")
    let pixels = (0..<(count * rows * cols)).map { _ in UInt8(truncatingIfNeeded: stream.nextUInt32()) }
    return ImageSet(count: count, rows: rows, cols: cols, pixels: pixels, labels: [UInt8](repeating: 0, count: count))
}

/// One image of rows×cols zeros with 255 at (r, c).
func dot(rows: Int, cols: Int, at r: Int, _ c: Int) -> ImageSet {
    var pixels = [UInt8](repeating: 0, count: rows * cols)
    pixels[r * cols + c] = 255
    return ImageSet(count: 1, rows: rows, cols: cols, pixels: pixels, labels: [0])
}

@Suite("Augmentation kernel")
struct AugmentationTests {
    let images = noise(count: 37)
    let augmentation = Augmentation(shift: 0.1, rotation: 10, zoom: 0.1)
    let transform = PixelTransform(scale: 1 / 255)

    func augmented(epoch: Int, seed: UInt64 = 42, indices: [Int]? = nil, firstPosition: Int = 0,
                   augmentation: Augmentation? = nil, threads: Int = 1) -> [Float] {
        let indices = indices ?? Array(0..<images.count)
        let out = FloatStorage(count: indices.count * images.imageSize)
        images.fillAugmentedInputs(indices[...], augmentation: augmentation ?? self.augmentation, seed: seed,
                                   epoch: epoch, firstPosition: firstPosition, transform: transform, into: out.view,
                                   pool: ThreadPool(threadCount: threads))
        return out.array
    }

    @Test("deterministic: the same seed, epoch and positions give the same pixels; epochs and seeds differ")
    func deterministic() {
        let a = augmented(epoch: 3)
        #expect(a == augmented(epoch: 3))
        #expect(a != augmented(epoch: 4))
        #expect(a != augmented(epoch: 3, seed: 43))
        let plain = FloatStorage(count: a.count)
        images.fillInputs(Array(0..<images.count)[...], transform: transform, into: plain.view)
        #expect(a != plain.array)
    }

    @Test("threads 1, 2 and 3 give identical pixels")
    func threads() {
        let one = augmented(epoch: 1, threads: 1)
        #expect(augmented(epoch: 1, threads: 2) == one)
        #expect(augmented(epoch: 1, threads: 3) == one)
    }

    @Test("a warp depends on the image's place in the epoch, not on how the epoch is cut into batches")
    func positions() {
        let order = [5, 2, 30, 7, 11, 0, 36, 8, 19, 4]
        let whole = augmented(epoch: 2, indices: order)
        let first = augmented(epoch: 2, indices: Array(order[..<4]), firstPosition: 0)
        let second = augmented(epoch: 2, indices: Array(order[4...]), firstPosition: 4)
        #expect(first + second == whole)
        // The same image at another place gets another warp.
        #expect(augmented(epoch: 2, indices: [5], firstPosition: 1) != Array(whole[..<images.imageSize]))
    }

    @Test("nothing moves: exactly the plain scaled image, bit for bit")
    func identity() {
        let plain = FloatStorage(count: images.count * images.imageSize)
        let shifted = PixelTransform(scale: 1 / (255 * 0.3081), shift: -0.1307 / 0.3081)
        images.fillInputs(Array(0..<images.count)[...], transform: shifted, into: plain.view)
        let warped = FloatStorage(count: plain.count)
        gatherWarped(images.pixels, rows: 28, cols: 28, indices: Array(0..<images.count)[...],
                     warps: [ImageWarp](repeating: .identity, count: images.count), scale: shifted.scale,
                     shift: shifted.shift, into: warped.view)
        #expect(warped.array == plain.array)
        let zero = FloatStorage(count: plain.count)
        images.fillAugmentedInputs(Array(0..<images.count)[...], augmentation: Augmentation(), seed: 1, epoch: 0,
                                   firstPosition: 0, transform: shifted, into: zero.view)
        #expect(zero.array == plain.array)
    }

    func warp(_ image: ImageSet, _ warp: ImageWarp, shift: Float = 0) -> [Float] {
        let out = FloatStorage(count: image.imageSize)
        gatherWarped(image.pixels, rows: image.rows, cols: image.cols, indices: [0], warps: [warp], scale: 1,
                     shift: shift, into: out.view)
        return out.array
    }

    @Test("a shift of (2 right, 1 down) moves the pixel at (5, 7) to (6, 9) and nothing else")
    func knownShift() {
        let out = warp(dot(rows: 28, cols: 28, at: 5, 7), ImageWarp(dx: 2, dy: 1))
        var expected = [Float](repeating: 0, count: 28 * 28)
        expected[6 * 28 + 9] = 255
        #expect(out == expected)
        // Half a pixel: bilinear, split between two neighbours.
        let half = warp(dot(rows: 28, cols: 28, at: 5, 7), ImageWarp(dx: 0.5))
        #expect(half[5 * 28 + 7] == 127.5 && half[5 * 28 + 8] == 127.5 && half.reduce(0, +) == 255)
    }

    @Test("zero fill: what comes from outside the image is pixel 0 (before scale and shift)")
    func zeroFill() {
        let out = warp(noise(count: 1), ImageWarp(dx: 100), shift: -0.5)
        #expect(out.allSatisfy { $0 == -0.5 })
        let edge = warp(dot(rows: 5, cols: 5, at: 2, 0), ImageWarp(dx: -1))
        #expect(edge.allSatisfy { $0 == 0 })
    }

    @Test("rotation is counter-clockwise as displayed (Keras); zoom above 1 shrinks the content")
    func rotationAndZoom() {
        // 5×5, centre (2, 2): the pixel right of the centre goes to the top after +90°.
        let rotated = warp(dot(rows: 5, cols: 5, at: 2, 4), ImageWarp(angle: .pi / 2))
        #expect(abs(rotated[0 * 5 + 2] - 255) < 1e-3, "\(rotated)")
        #expect(rotated.reduce(0, +) > 254.9 && rotated.reduce(0, +) < 255.1)
        // Reading twice as far from the centre: (2, 4) appears at (2, 3).
        let zoomed = warp(dot(rows: 5, cols: 5, at: 2, 4), ImageWarp(zoom: 2))
        #expect(zoomed[2 * 5 + 3] == 255 && zoomed.reduce(0, +) == 255)
    }

    @Test("the AVX-512 warp gives the Swift loop's bits: 28×28, 5×5 and 19×37 images, warps to beyond the edge",
          .enabled(if: VectorCode.avx512.isAvailable), arguments: [(28, 28), (5, 5), (19, 37)])
    func buildsAgree(_ size: (rows: Int, cols: Int)) {
        let count = 64
        let set = noise(count: count, rows: size.rows, cols: size.cols, seed: 3)
        let stream = RandomStream(seed: 7, name: "warps")
        // Up to 60% shifts, 90° and 2× zoom: many pixels near and past the edges.
        let warps = (0..<count).map {
            ImageWarp.random(stream.block(UInt64($0)), rows: size.rows, cols: size.cols, maxShift: 0.6,
                             maxDegrees: 90, maxZoom: 0.9)
        }
        var results: [[UInt32]] = []
        for code in [VectorCode.portable, .avx512] {
            let out = FloatStorage(count: count * set.imageSize)
            gatherWarped(set.pixels, rows: size.rows, cols: size.cols, indices: Array(0..<count)[...], warps: warps,
                         scale: 1 / 255, shift: -0.25, into: out.view, code: code)
            results.append(out.array.map(\.bitPattern))
        }
        let same = results[0] == results[1]
        #expect(same)
        // Neither all background nor no background.
        #expect(results[0].contains(Float(-0.25).bitPattern) && results[0].contains { Float(bitPattern: $0) > 0.1 })
    }

    @Test("random warps stay within the configured ranges and cover them")
    func ranges() {
        let stream = RandomStream(seed: 42, name: "augment", index: 0)
        let warps = (0..<2_000).map {
            ImageWarp.random(stream.block(UInt64($0)), rows: 28, cols: 28, maxShift: 0.1, maxDegrees: 10, maxZoom: 0.2)
        }
        #expect(warps.allSatisfy { abs($0.dx) <= 2.8 && abs($0.dy) <= 2.8 })
        #expect(warps.allSatisfy { abs($0.angle) <= 10 * Double.pi / 180 && abs($0.zoom - 1) <= 0.2 })
        #expect(warps.map(\.dx).max()! > 2.7 && warps.map(\.dx).min()! < -2.7)
        #expect(warps.map(\.angle).max()! > 0.17 && warps.map(\.zoom).min()! < 0.81)
        // Word 2³¹ is the middle of the range.
        let middle = ImageWarp.random((1 << 31, 1 << 31, 1 << 31, 1 << 31), rows: 28, cols: 28, maxShift: 0.1,
                                      maxDegrees: 10, maxZoom: 0.2)
        #expect(middle == .identity)
    }
}
