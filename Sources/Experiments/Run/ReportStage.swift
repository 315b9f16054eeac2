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
    /// Writes the file at the path given, atomically.
    let write: (String) throws -> Void

    init(name: String, contents: Data) {
        self.name = name
        write = { try contents.write(to: URL(fileURLWithPath: $0), options: .atomic) }
    }

    init(name: String, write: @escaping (String) throws -> Void) {
        self.name = name
        self.write = write
    }
}

extension ExperimentRunner {
    /// report.json's content: everything about the run, as far as it went.
    static func makeReport(_ launch: Launch, _ soFar: RunSoFar, status: RunStatus, error: String?,
                           divergence: DivergenceRecord?, test: Evaluation?, threads: Int,
                           startSeconds: Double) throws -> RunReport {
        let spec = launch.spec, model = launch.compiled.model, data = soFar.data
        let trainImages = data?.training.count ?? 0
        let records = soFar.state.history.map { e in
            EpochRecord(epoch: e.epoch + 1, loss: e.training.loss, accuracy: e.training.accuracy,
                        valLoss: e.validation?.loss, valAccuracy: e.validation?.accuracy,
                        learningRate: Double("\(e.learningRate)") ?? Double(e.learningRate),
                        seconds: e.seconds, imagesPerSecond: Double(trainImages) / e.seconds)
        }
        let trainSeconds = records.reduce(0) { $0 + $1.seconds }
        let perEpoch = records.map(\.seconds).sorted()
        let timing = TimingRecord(
            trainSeconds: trainSeconds,
            secondsPerEpochMedian: perEpoch.isEmpty ? 0 : perEpoch.count % 2 == 1 ? perEpoch[perEpoch.count / 2]
                : (perEpoch[perEpoch.count / 2 - 1] + perEpoch[perEpoch.count / 2]) / 2,
            imagesPerSecond: trainSeconds > 0 ? Double(trainImages * records.count) / trainSeconds : 0,
            totalSeconds: monotonicSeconds() - startSeconds)
        let iso = ISO8601DateFormatter()
        let finished = status == .finished
        var report = RunReport(
            name: spec.name, runID: launch.runID, status: status, error: error, command: commandLine(),
            experimentFile: launch.file, experimentSHA256: launch.experimentHash,
            seed: spec.seed, startedAt: iso.string(from: launch.started), finishedAt: iso.string(from: Date()),
            dataset: data.map { data in
                DatasetRecord(
                    name: data.dataset.name, directory: data.dataset.source.directory, origin: data.dataset.source.origin.rawValue,
                    files: data.dataset.files.map { .init(name: $0.name, path: $0.path, sha256: $0.sha256) },
                    trainImages: data.training.count, validationImages: data.validation?.count ?? 0,
                    testImages: data.dataset.test.count)
            },
            preprocessing: data?.preprocessing,
            parameters: model.parameterCount,
            layers: model.layers.map { LayerRecord(name: $0.name, type: $0.kind, outputShape: $0.outputShape.dims,
                                                   parameters: $0.parameterCount, path: $0.pathName) },
            epochs: records,
            earlyStopping: soFar.state.tracker.map { EarlyStoppingRecord($0, restoredEpoch: soFar.restoredEpoch) },
            learningRateScheduled: soFar.setup?.learningRate.isScheduled ?? false,
            test: test.map { TestRecord(loss: $0.loss, accuracy: $0.accuracy, images: $0.samples,
                                        confusionMatrix: $0.confusion, classNames: data?.dataset.classNames ?? []) },
            weightSHA256: finished ? model.weightHash : nil, timing: timing, peakMemoryBytes: peakResidentBytes(),
            versions: Provenance.current(threads: threads),
            configuration: JSONValueBox(value: JSONValue(try spec.resolved(launch.compiled))),
            checkpoint: finished ? CheckpointFolder(run: launch.directory).file(.final, step: 0) : soFar.checkpoint,
            resumes: soFar.resumes, divergence: divergence)
        if let figures = RunFigures(report) { report.expect = ExpectationResult(spec.expect, figures: figures) }
        return report
    }

    /// This process's command line as a user would type it: "runner experiments/mlp.yaml --epochs 2".
    static func commandLine() -> String {
        (["runner"] + CommandLine.arguments.dropFirst().map { argument in
            argument.isEmpty || argument.contains(where: { " \"'$\\".contains($0) })
                ? "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'" : argument
        }).joined(separator: " ")
    }

    /// The run folder's report files in the order they are written: the records, report.json, then
    /// the pages made from them (report.html, report.ipynb: see Reports/RunPages.swift).
    static func reportFiles(_ report: RunReport, resolvedYAML: String, data: ReportData?) throws -> [ReportFile] {
        [ReportFile(name: "experiment.yaml", contents: Data(resolvedYAML.utf8)),
         ReportFile(name: "metrics.csv", contents: Data(report.csv().utf8)),
         ReportFile(name: "report.md", contents: Data(report.markdown().utf8))]
            + (data.map { data in [ReportFile(name: ReportData.fileName) { try data.write(to: $0) }] } ?? [])
            + [ReportFile(name: "report.json", contents: try report.json())]
            + pageFiles()
    }

    /// report.html and report.ipynb, drawn once from the folder's files when the first is written.
    static func pageFiles() -> [ReportFile] {
        final class Drawn { var pages: RunPages? }
        let drawn = Drawn()
        return RunPages.fileNames.map { name in
            ReportFile(name: name) { path in
                if drawn.pages == nil { drawn.pages = try RunPages(folder: (path as NSString).deletingLastPathComponent) }
                try Data(drawn.pages!.file(named: name).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            }
        }
    }

    /// Writes the report files, each atomically, then — when the run finished — points
    /// results/<name>/latest at the run. Returns what it wrote.
    static func writeReports(_ report: RunReport, data: ReportData?, launch: Launch) throws -> [ReportFile] {
        let files = try reportFiles(report, resolvedYAML: launch.resolvedYAML, data: data)
        for file in files { try file.write((launch.directory as NSString).appendingPathComponent(file.name)) }
        if report.status == .finished { linkLatest(launch.runID, in: launch.resultsRoot) }
        return files
    }

    /// The closing lines: test result, weight hash, speed, the `expect:` checks, where the files are.
    static func printResults(_ report: RunReport, files: [ReportFile], directory: String, console: Console) {
        let timing = report.timing
        console.line()
        if let test = report.test {
            console.result("Test accuracy: \(Format.fixed(test.accuracy * 100, 2))% - loss: \(Format.fixed(test.loss, 4)) "
                           + "(\(Format.grouped(test.images)) images)")
        }
        if let hash = report.weightSHA256 { console.result("Weight hash: \(hash)") }
        console.line("Time: \(Format.fixed(timing.secondsPerEpochMedian, 2)) s/epoch (median), "
                     + "\(Format.grouped(Int(timing.imagesPerSecond.rounded()))) images/s; "
                     + "peak memory \(Format.bytes(report.peakMemoryBytes))")
        for check in report.expect?.checks ?? [] {
            console.result("Expect \(check.metric) \(check.condition): \(check.passed ? "met" : "MISSED") "
                           + "(\(check.value.map { jsonNumber($0) } ?? "not measured"))")
        }
        printReportFiles(files, directory: directory, console: console)
    }

    /// "Reports: <run>/ (…)" and, last, the page to open.
    static func printReportFiles(_ files: [ReportFile], directory: String, console: Console) {
        let checkpoints = FileIO.isDirectory(CheckpointFolder(run: directory).path) ? ", checkpoints/" : ""
        console.result("Reports: \(directory)/ (\(files.map(\.name).joined(separator: ", "))\(checkpoints))")
        if files.contains(where: { $0.name == "report.html" }) {
            console.result("Report: \((directory as NSString).appendingPathComponent("report.html"))")
        }
    }
}
