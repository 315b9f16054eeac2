// Data augmentation of training images: a random shift, rotation and zoom per image and epoch
// (Keras's RandomTranslation, RandomRotation and RandomZoom in one bilinear warp with zero fill).
// Only `Trainer.trainEpoch` uses it; validation and test images are never augmented.
import Kernels

/// How far each training image may be moved, turned and zoomed. Each image draws its own values
/// uniformly in ±range from the stream ("augment", index: epoch), at its place in the epoch.
public struct Augmentation: Sendable, Equatable, Codable {
    /// Largest shift, as a fraction of the width (horizontally) and height (vertically), as in
    /// Keras's RandomTranslation(height_factor: shift, width_factor: shift).
    public var shift: Float
    /// Largest rotation, in degrees either way (Keras's RandomRotation takes a fraction of 2π:
    /// rotation 10 is its factor 10/360).
    public var rotation: Float
    /// Largest zoom: the image is scaled by 1/(1 + z), z uniform in ±zoom (positive z zooms out,
    /// as Keras's RandomZoom(zoom)).
    public var zoom: Float

    public init(shift: Float = 0, rotation: Float = 0, zoom: Float = 0) {
        self.shift = shift
        self.rotation = rotation
        self.zoom = zoom
    }

    /// Nothing moves: training images are converted exactly as validation images are.
    public var isIdentity: Bool { shift == 0 && rotation == 0 && zoom == 0 }
}

extension ImageSet {
    /// Like `fillInputs`, with each image warped: the image at place `firstPosition + r` of epoch
    /// `epoch`'s order takes the warp of block (firstPosition + r) of the stream ("augment",
    /// index: epoch) of `seed`.
    public func fillAugmentedInputs(_ indices: ArraySlice<Int>, augmentation: Augmentation, seed: UInt64,
                                    epoch: Int, firstPosition: Int, transform: PixelTransform,
                                    into inputs: FloatView, pool: ThreadPool? = nil) {
        let stream = RandomStream(seed: seed, name: "augment", index: UInt64(epoch))
        gatherAugmented(pixels, rows: rows, cols: cols, indices: indices, firstPosition: firstPosition,
                        stream: stream, maxShift: augmentation.shift, maxDegrees: augmentation.rotation,
                        maxZoom: augmentation.zoom, scale: transform.scale, shift: transform.shift,
                        into: inputs, pool: pool)
    }
}
