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
