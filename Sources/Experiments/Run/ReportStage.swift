// The last stage of a run: the report (per-epoch records, test results, timing, provenance, the
// `expect:` checks), the files written from it into the run folder, and the closing lines.
import Datasets
import Foundation
import Kernels
import NeuralNetwork
import Training

/// One file the report stage writes into the run folder.
struct ReportFile {
    let name: String
    let contents: Data
}

extension ExperimentRunner {
    /// report.json's content: everything about the finished run.
    static func makeReport(_ launch: Launch, data: RunData, setup: TrainingSetup, trained: Trained,
                           resumes: [RunCheckpoint.Resume], test: Evaluation, threads: Int,
                           startSeconds: Double) throws -> RunReport {
        let spec = launch.spec, model = setup.model, dataset = data.dataset, training = data.training
        let records = trained.state.history.map { e in
            EpochRecord(epoch: e.epoch + 1, loss: e.training.loss, accuracy: e.training.accuracy,
                        valLoss: e.validation?.loss, valAccuracy: e.validation?.accuracy,
                        learningRate: Double("\(e.learningRate)") ?? Double(e.learningRate),
                        seconds: e.seconds, imagesPerSecond: Double(training.count) / e.seconds)
        }
        let trainSeconds = records.reduce(0) { $0 + $1.seconds }
        let perEpoch = records.map(\.seconds).sorted()
        let timing = TimingRecord(
            trainSeconds: trainSeconds,
            secondsPerEpochMedian: perEpoch.isEmpty ? 0 : perEpoch.count % 2 == 1 ? perEpoch[perEpoch.count / 2]
                : (perEpoch[perEpoch.count / 2 - 1] + perEpoch[perEpoch.count / 2]) / 2,
            imagesPerSecond: trainSeconds > 0 ? Double(training.count * records.count) / trainSeconds : 0,
            totalSeconds: monotonicSeconds() - startSeconds)
        let iso = ISO8601DateFormatter()
        var report = RunReport(
            name: spec.name, runID: launch.runID, experimentFile: launch.file, experimentSHA256: launch.experimentHash,
            seed: spec.seed, startedAt: iso.string(from: launch.started), finishedAt: iso.string(from: Date()),
            dataset: DatasetRecord(
                name: dataset.name, directory: dataset.source.directory, origin: dataset.source.origin.rawValue,
                files: dataset.files.map { .init(name: $0.name, path: $0.path, sha256: $0.sha256) },
                trainImages: training.count, validationImages: data.validation?.count ?? 0,
                testImages: dataset.test.count),
            preprocessing: data.preprocessing,
            parameters: model.parameterCount,
            layers: model.layers.map { LayerRecord(name: $0.name, type: $0.kind, outputShape: $0.outputShape.dims,
                                                   parameters: $0.parameterCount, path: $0.pathName) },
            epochs: records,
            earlyStopping: trained.state.tracker.map { EarlyStoppingRecord($0, restoredEpoch: trained.restoredEpoch) },
            learningRateScheduled: setup.learningRate.isScheduled,
            test: TestRecord(loss: test.loss, accuracy: test.accuracy, images: test.samples,
                             confusionMatrix: test.confusion, classNames: dataset.classNames),
            weightSHA256: model.weightHash, timing: timing, peakMemoryBytes: peakResidentBytes(),
            versions: Provenance.current(threads: threads),
            configuration: JSONValueBox(value: JSONValue(try spec.resolved(launch.compiled))),
            checkpoint: CheckpointFolder(run: launch.directory).file(.final, step: 0), resumes: resumes)
        report.expect = ExpectationResult(spec.expect, figures: RunFigures(report))
        return report
    }

    /// The run folder's report files, in the order the closing line names them.
    static func reportFiles(_ report: RunReport, resolvedYAML: String) throws -> [ReportFile] {
        [ReportFile(name: "report.json", contents: try report.json()),
         ReportFile(name: "report.md", contents: Data(report.markdown().utf8)),
         ReportFile(name: "metrics.csv", contents: Data(report.csv().utf8)),
         ReportFile(name: "experiment.yaml", contents: Data(resolvedYAML.utf8))]
    }

    /// Writes the report files, each atomically and report.json last (a run folder with report.json
    /// is a finished run), then points results/<name>/latest at the run. Returns what it wrote.
    static func writeReports(_ report: RunReport, launch: Launch) throws -> [ReportFile] {
        let files = try reportFiles(report, resolvedYAML: launch.resolvedYAML)
        let folder = URL(fileURLWithPath: launch.directory)
        for file in files.filter({ $0.name != "report.json" }) + files.filter({ $0.name == "report.json" }) {
            try file.contents.write(to: folder.appendingPathComponent(file.name), options: .atomic)
        }
        linkLatest(launch.runID, in: launch.resultsRoot)
        return files
    }

    /// The closing lines: test result, weight hash, speed, the `expect:` checks, where the files are.
    static func printResults(_ report: RunReport, files: [ReportFile], directory: String, console: Console) {
        let test = report.test, timing = report.timing
        console.line()
        console.result("Test accuracy: \(Format.fixed(test.accuracy * 100, 2))% - loss: \(Format.fixed(test.loss, 4)) "
                       + "(\(Format.grouped(test.images)) images)")
        console.result("Weight hash: \(report.weightSHA256)")
        console.line("Time: \(Format.fixed(timing.secondsPerEpochMedian, 2)) s/epoch (median), "
                     + "\(Format.grouped(Int(timing.imagesPerSecond.rounded()))) images/s; "
                     + "peak memory \(Format.bytes(report.peakMemoryBytes))")
        for check in report.expect?.checks ?? [] {
            console.result("Expect \(check.metric) \(check.condition): \(check.passed ? "met" : "MISSED") "
                           + "(\(check.value.map { jsonNumber($0) } ?? "not measured"))")
        }
        console.result("Reports: \(directory)/ (\(files.map(\.name).joined(separator: ", ")), checkpoints/)")
    }
}
