// The runner's files read by other tools' own readers, from the Python environment .ci/python-env
// makes: an exported ONNX model run by onnxruntime gives the runner's predictions, and
// TensorBoard's EventAccumulator finds report.json's figures in the event files. Serialized: the
// runs use every core.
import Datasets
import Experiments
import Foundation
import Testing
import TestSupport

@Suite("ONNX and TensorBoard files, read by onnxruntime and TensorBoard", .serialized)
struct InteropTests {
    init() throws {
        try #require(TestPaths.hasMNIST, "the MNIST .gz files are not in \(TestPaths.mnist) (set MNIST_DIR)")
    }

    /// Runs the MNIST test images 0..<count through the model and writes the probabilities
    /// (float32, row after row) to the output file; prints the input and output descriptions.
    static let onnxScript = """
    import gzip, sys
    import numpy as np, onnxruntime as ort
    model, mnist, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    (i,), (o,) = session.get_inputs(), session.get_outputs()
    with gzip.open(mnist + "/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)[:count]
    shape = [count] + [d for d in i.shape[1:]]
    probabilities = session.run([o.name], {i.name: images.astype(np.float32).reshape(shape)})[0]
    probabilities.astype("<f4").tofile(out)
    print(i.name, i.shape, i.type, o.name, o.shape)
    """

    @Test("runner export: mlp and cnn in onnxruntime — every argmax the runner's, probabilities within 1e-4",
          arguments: ["mlp", "cnn"])
    func onnx(_ name: String) throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let results = scratch("results")
        let run = try runner(["experiments/\(name).yaml", "--epochs", "1", "--data-dir", TestPaths.mnist,
                              "--results-dir", results, "--quiet"], scratch: scratch)
        // cnn.yaml is gated at keras.io's published 99.22% (expect: >= 99.00%): one epoch misses
        // it and exits 3, with a trained model all the same.
        try #require(run.exited(0) || run.exited(3), "\(run)")
        let folder = results + "/\(name)/latest"
        let export = try runner(["export", folder, "--format", "onnx", "-o", scratch("model.onnx")], scratch: scratch)
        try #require(export.exited(0), "\(export)")
        #expect(export.stdout.contains("input  'pixels'        float32 (N, 28, 28"), "\(export)")

        let count = 1000
        let said = try Python.run(Self.onnxScript, [scratch("model.onnx"), TestPaths.mnist, "\(count)", scratch("p.f32")],
                                  scratch: scratch)
        #expect(said.hasPrefix("pixels ['N', 28, 28"), "\(said)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: scratch("p.f32")))
        let theirs = bytes.withUnsafeBytes { raw in
            (0..<bytes.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        try #require(theirs.count == count * 10)

        // The runner's own predictions of the same images.
        let trained = try TrainedModel(folder)
        let test = try DatasetLocator(explicitDirectory: TestPaths.mnist, cacheDirectory: scratch("cache"),
                                      allowDownload: false).load("mnist").test
        let images = (0..<count).map {
            GrayImage(width: 28, height: 28, pixels: Array(test.pixels[($0 * 784)..<(($0 + 1) * 784)]))
        }
        let ours = trained.predict(images)
        var worst: Float = 0, disagreements = 0
        for i in 0..<count {
            let row = Array(theirs[(i * 10)..<(i * 10 + 10)])
            if row.indices.max(by: { row[$0] < row[$1] }) != ours[i].indices.max(by: { ours[i][$0] < ours[i][$1] }) {
                disagreements += 1
            }
            for k in 0..<10 { worst = max(worst, abs(row[k] - ours[i][k])) }
        }
        #expect(disagreements == 0)
        #expect(worst <= 1e-4, "largest probability difference \(worst)")
    }

    /// Every scalar of the run's event files as {"train": {tag: [[step, value], …]}, …}, and the
    /// image and text tags.
    static let eventsScript = """
    import json, sys
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = {}
    for run in ("train", "validation"):
        acc = EventAccumulator(sys.argv[1] + "/" + run, size_guidance={"scalars": 0, "images": 0, "tensors": 0})
        acc.Reload()
        tags = acc.Tags()
        out[run] = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
        out[run + " images"] = tags["images"]
        out[run + " texts"] = {t: acc.Tensors(t)[0].tensor_proto.string_val[0].decode() for t in tags["tensors"]}
    print(json.dumps(out))
    """

    @Test("--tensorboard with --set: EventAccumulator finds every epoch's figures with report.json's values")
    func tensorboard() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let results = scratch("results")
        let settings = ["model.layers[1].units=32", "train.batch_size=200"]
        let run = try runner(["experiments/mlp.yaml", "--epochs", "2", "--tensorboard", "--data-dir", TestPaths.mnist,
                              "--results-dir", results, "--quiet"] + settings.flatMap { ["--set", $0] }, scratch: scratch)
        try #require(run.exited(0), "\(run)")
        let folder = results + "/mlp/latest"

        // --set is recorded in the run's experiment, and the hash is that of the experiment it makes.
        let experiment = try String(contentsOfFile: folder + "/experiment.yaml", encoding: .utf8)
        #expect(experiment.contains("units: 32") && experiment.contains("batch_size: 200") && experiment.contains("tensorboard: true"))
        struct Report: Decodable {
            struct Epoch: Decodable { let epoch: Int; let loss, accuracy, val_loss, val_accuracy, learning_rate: Double }
            struct Test: Decodable { let loss, accuracy: Double }
            let epochs: [Epoch]
            let test: Test
            let experiment_sha256: String
            let parameters: Int
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/report.json")))
        var spec = try ExperimentSpec.load(path: TestPaths.root.path + "/experiments/mlp.yaml", settings: settings)
        spec.train.epochs = 2
        #expect(report.experiment_sha256 == (try spec.resolvedText(spec.compile(maxBatch: 200)).sha256))
        #expect(report.parameters == 784 * 32 + 32 + 330)

        let said = try Python.run(Self.eventsScript, [folder + "/tensorboard"], scratch: scratch)
        let events = try #require(try JSONSerialization.jsonObject(with: Data(said.utf8)) as? [String: Any])
        let train = try #require(events["train"] as? [String: [[Double]]])
        let validation = try #require(events["validation"] as? [String: [[Double]]])
        func value(_ scalars: [String: [[Double]]], _ tag: String, step: Int) -> Float? {
            scalars[tag]?.first { Int($0[0]) == step }.map { Float($0[1]) }
        }
        #expect(report.epochs.count == 2)
        for e in report.epochs {
            #expect(value(train, "epoch_loss", step: e.epoch) == Float(e.loss))
            #expect(value(train, "epoch_accuracy", step: e.epoch) == Float(e.accuracy))
            #expect(value(train, "epoch_learning_rate", step: e.epoch) == Float(e.learning_rate))
            #expect(value(validation, "epoch_loss", step: e.epoch) == Float(e.val_loss))
            #expect(value(validation, "epoch_accuracy", step: e.epoch) == Float(e.val_accuracy))
        }
        #expect(value(train, "test/accuracy", step: 2) == Float(report.test.accuracy))
        #expect(value(train, "test/loss", step: 2) == Float(report.test.loss))
        // One batch loss per step: 54,000 images in batches of 200, two epochs.
        #expect(train["batch_loss"]?.map { Int($0[0]) } == Array(1...540))
        let images = try #require(events["train images"] as? [String])
        #expect(images.contains("test/confusion_matrix"))
        #expect(images.filter { $0.hasPrefix("test/samples/") }.count == 12)
        let texts = try #require(events["train texts"] as? [String: String])
        #expect(texts["model/summary"]?.contains("dense_1") == true)
        #expect(texts["model/experiment"]?.contains("units: 32") == true)
    }
}
