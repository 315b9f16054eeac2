// experiments/reproductions/: every file reads, builds the published model (its parameter count is
// the original's), names its published figure and source, and gates below that figure; the two
// shipped experiments it reuses are links, not copies.
import Experiments
import Foundation
import Testing
import TestSupport

@Suite("experiments/reproductions")
struct ReproductionFilesTests {
    static let folder = TestPaths.root.appendingPathComponent("experiments/reproductions").path

    /// File → the original's parameter count and how many seeds the file runs.
    static let files: [(String, Int, Int)] = [
        ("caffe-lenet.yaml", 431_080, 3), ("keras-io-mnist-convnet.yaml", 34_826, 1),
        ("keras2-mnist-cnn.yaml", 1_199_882, 3), ("keras2-mnist-mlp.yaml", 669_706, 3),
        ("lenet5.yaml", 61_706, 1), ("pytorch-examples-mnist.yaml", 1_199_882, 3),
        ("tf-quickstart-beginner.yaml", 101_770, 3),
    ]

    @Test("the folder holds exactly these files")
    func listing() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names == Self.files.map(\.0))
    }

    @Test("each builds the original's model, names a published figure and a source, and gates below it",
          arguments: files.map(\.0))
    func file(_ name: String) throws {
        let (_, parameters, seeds) = try #require(Self.files.first { $0.0 == name })
        let spec = try ExperimentSpec.load(path: Self.folder + "/" + name)
        let points = try spec.points()
        #expect(points.count == seeds)
        #expect(try spec.compile(maxBatch: 64).model.parameterCount == parameters)
        let published = try #require(spec.published, "\(name) has no published:")
        let figure = try #require(published.testAccuracy)
        #expect(published.source.count > 20)
        let gate = try #require(spec.expect.first { $0.metric == .testAccuracy }, "\(name) has no test_accuracy gate")
        #expect(gate.relation == .atLeast && gate.threshold < figure && gate.threshold >= figure - 0.005,
                "\(name): gate \(gate.condition) for a published \(figure)")
    }

    @Test("keras.io's mnist_convnet and LeNet-5 are the shipped cnn.yaml and lenet5.yaml, linked")
    func links() throws {
        for (link, target) in [("keras-io-mnist-convnet.yaml", "../cnn.yaml"), ("lenet5.yaml", "../lenet5.yaml")] {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: Self.folder + "/" + link) == target)
        }
    }
}
