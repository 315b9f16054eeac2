// Per-batch preprocessing: stored UInt8 pixels become the network's Float inputs, labels become
// one-hot rows or class indices. Nothing is converted ahead of time, so the dataset stays at one
// byte per pixel in memory.
import Kernels

/// x' = x · scale + shift, applied to raw pixel values 0…255. The notebook's `x / 255.0` is
/// scale 1/255, shift 0; standardisation is scale 1/(255σ), shift −μ/σ.
public struct PixelTransform: Sendable, Equatable, Codable {
    public var scale: Float
    public var shift: Float
    public init(scale: Float, shift: Float = 0) {
        self.scale = scale
        self.shift = shift
    }

    /// x' = (x / scale − mean) / std: the notebook's `x / scale`, then standardised with the
    /// statistics of the scaled pixels — as one scale and shift, so a batch is still one pass.
    public init(scale: Float, standardizingWith statistics: PixelStatistics) {
        let s = Double(scale), std = statistics.std(scale: scale), mean = statistics.mean(scale: scale)
        self.init(scale: Float(1 / (s * std)), shift: Float(-mean / std))
    }
}

/// Mean and standard deviation of raw pixel values (0…255) over a set of images: one scalar pair
/// for all pixels (MNIST's training set: 33.32 and 78.57, i.e. 0.1307 and 0.3081 after / 255).
/// Exact: computed from the 256-bin histogram of the pixels, in Double.
public struct PixelStatistics: Sendable, Equatable, Codable {
    /// Mean raw pixel value.
    public let mean: Double
    /// Population standard deviation (divided by the pixel count, as NumPy's `std`) of raw values.
    public let std: Double
    /// Pixels counted.
    public let count: Int

    public init(mean: Double, std: Double, count: Int) {
        self.mean = mean
        self.std = std
        self.count = count
    }

    /// From a histogram of raw values: counts[v] pixels have value v.
    public init(histogram counts: [Int]) {
        precondition(counts.count == 256)
        let n = counts.reduce(0, +)
        var sum = 0.0
        for (v, k) in counts.enumerated() { sum += Double(v) * Double(k) }
        let mean = n == 0 ? 0 : sum / Double(n)
        var squares = 0.0
        for (v, k) in counts.enumerated() { squares += (Double(v) - mean) * (Double(v) - mean) * Double(k) }
        self.init(mean: mean, std: n == 0 ? 0 : (squares / Double(n)).squareRoot(), count: n)
    }

    /// The mean of the pixels after dividing them by `scale`.
    public func mean(scale: Float) -> Double { mean / Double(scale) }

    /// The standard deviation after dividing by `scale`; 1 when every pixel is the same (then
    /// standardising only subtracts the mean, like scikit-learn's StandardScaler).
    public func std(scale: Float) -> Double { std > 0 ? std / Double(scale) : 1 }
}

/// A selection of an ImageSet's images (a training or validation split), in a fixed order.
public struct Subset: Sendable {
    public let images: ImageSet
    public let indices: [Int]
    public var count: Int { indices.count }

    public init(_ images: ImageSet, indices: [Int]? = nil) {
        self.images = images
        self.indices = indices ?? Array(0..<images.count)
    }

    /// Mean and standard deviation of the raw pixels of this subset's images (only these: the
    /// training split's statistics must not see validation or test images).
    public func pixelStatistics() -> PixelStatistics {
        PixelStatistics(histogram: pixelHistogram(images.pixels, imageSize: images.imageSize, indices: indices))
    }

    /// Keras's `validation_split`: the last ⌊fraction·count⌋ images (before any shuffling) are
    /// held out; returns (training, validation).
    public static func split(_ images: ImageSet, validationFraction: Double) -> (Subset, Subset?) {
        let held = Int((Double(images.count) * validationFraction).rounded(.down))
        if held <= 0 { return (Subset(images), nil) }
        let cut = images.count - held
        return (Subset(images, indices: Array(0..<cut)), Subset(images, indices: Array(cut..<images.count)))
    }
}

extension ImageSet {
    /// Writes the images `indices` into `inputs`, one row of `imageSize` Floats each.
    public func fillInputs(_ indices: ArraySlice<Int>, transform: PixelTransform, into inputs: FloatView,
                           pool: ThreadPool? = nil) {
        gatherScaled(pixels, rowLength: imageSize, indices: indices, scale: transform.scale,
                     shift: transform.shift, into: inputs, pool: pool)
    }

    /// Writes the labels of `indices` into `targets`: one-hot rows of `classes` Floats, or one
    /// Float class index per image.
    public func fillTargets(_ indices: ArraySlice<Int>, oneHot: Bool, classes: Int, into targets: FloatView) {
        var row = 0
        for i in indices {
            let label = Int(labels[i])
            if oneHot {
                let r = targets.slice(row * classes, classes)
                r.fill(0)
                r[label] = 1
            } else {
                targets[row] = Float(label)
            }
            row += 1
        }
    }
}
