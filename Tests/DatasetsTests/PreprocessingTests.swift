// Standardisation: statistics of the training split only, exact on small synthetic sets, and the
// one scale-and-shift transform that applies them, consistent with `scale`.
import Datasets
import Kernels
import Testing

@Suite("Standardization")
struct PreprocessingTests {
    /// Four 2×2 images: two training images (values 1…8) and two held-out images of 200.
    let images = ImageSet(count: 4, rows: 2, cols: 2,
                          pixels: [1, 2, 3, 4, 5, 6, 7, 8] + [UInt8](repeating: 200, count: 8), labels: [0, 1, 0, 1])

    @Test("mean and std come from the training subset only")
    func trainingOnly() throws {
        let (training, validation) = Subset.split(images, validationFraction: 0.5)
        let statistics = training.pixelStatistics()
        // mean 4.5; population variance (3.5² + 2.5² + 1.5² + 0.5²)·2 / 8 = 5.25
        #expect(statistics == PixelStatistics(mean: 4.5, std: 5.25.squareRoot(), count: 8))
        #expect(try #require(validation).pixelStatistics() == PixelStatistics(mean: 200, std: 0, count: 8))
        // All four images would give something else.
        #expect(Subset(images).pixelStatistics().mean == 102.25)
        // Scaled statistics are the raw ones divided by the scale.
        #expect(statistics.mean(scale: 255) == 4.5 / 255)
        #expect(statistics.std(scale: 255) == 5.25.squareRoot() / 255)
    }

    @Test("the transform maps the training pixels to mean 0, std 1, and every split through the same map")
    func transform() throws {
        let (training, validation) = Subset.split(images, validationFraction: 0.5)
        let statistics = training.pixelStatistics()
        for scale: Float in [255, 1, 2] {
            let transform = PixelTransform(scale: scale, standardizingWith: statistics)
            let out = FloatStorage(count: 8)
            images.fillInputs(training.indices[...], transform: transform, into: out.view)
            let values = out.array.map(Double.init)
            let mean = values.reduce(0, +) / 8
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 8
            #expect(abs(mean) < 1e-6 && abs(variance - 1) < 1e-5, "scale \(scale): \(values)")
            // (200 − 4.5) / √5.25, whatever the scale.
            images.fillInputs(try #require(validation).indices[...], transform: transform, into: out.view)
            #expect(out.array.allSatisfy { abs(Double($0) - 195.5 / 5.25.squareRoot()) < 1e-4 }, "\(out.array)")
        }
    }

    @Test("constant pixels: std is taken as 1, so standardising only subtracts the mean")
    func constantPixels() {
        let flat = ImageSet(count: 1, rows: 2, cols: 2, pixels: [51, 51, 51, 51], labels: [0])
        let statistics = Subset(flat).pixelStatistics()
        #expect(statistics.std == 0 && statistics.std(scale: 255) == 1)
        let transform = PixelTransform(scale: 255, standardizingWith: statistics)
        #expect(transform.shift == -0.2 && transform.scale == 1 / 255)
    }
}
