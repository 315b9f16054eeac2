// `runner report FOLDER…`: the pages of run folders and comparison folders drawn again from what
// is on disk (no training) — after an upgrade, or for runs made before the pages existed. With
// `evaluate`, a run folder without report-data.bin first gets one: the run's final checkpoint is
// loaded and evaluated on the test set (the same file a run writes at its end).
import Datasets
import Foundation
import Training

public enum ReportRebuilder {
    /// What a rebuild wrote.
    public struct Rebuilt: Sendable {
        public let folder: String
        public let files: [String]
        /// Set when the folder's pictures need report data it does not have.
        public let note: String?
    }

    /// Rebuilds the pages of each folder: a comparison folder (comparison.json) or a run folder
    /// (report.json). `evaluate` makes report-data.bin for run folders that lack it.
    public static func rebuild(_ folders: [String], evaluate: Bool, options: RunOptions, console: Console) throws -> [Rebuilt] {
        try folders.map { folder in
            let fm = FileManager.default
            if fm.fileExists(atPath: (folder as NSString).appendingPathComponent("comparison.json")) {
                let pages = ComparisonPages(try Comparison.read(folder: folder))
                try pages.write(to: folder)
                let files = ComparisonPages.fileNames.map { (folder as NSString).appendingPathComponent($0) }
                let note = pages.runs.contains { $0.row.status.completed && $0.data == nil }
                    ? "some runs have no \(ReportData.fileName): `runner report --evaluate RUN` makes it, then rebuild this folder"
                    : nil
                return Rebuilt(folder: folder, files: files, note: note)
            }
            guard fm.fileExists(atPath: (folder as NSString).appendingPathComponent("report.json")) else {
                throw ExperimentError(message: "\(folder) holds neither report.json (a run folder) nor comparison.json "
                                      + "(a comparison folder)",
                                      hint: "pass results/<name>/<run> or results/comparisons/<name>")
            }
            var made: [String] = []
            let dataPath = (folder as NSString).appendingPathComponent(ReportData.fileName)
            if evaluate && !fm.fileExists(atPath: dataPath) {
                try makeReportData(folder, options: options, console: console).write(to: dataPath)
                made.append(dataPath)
            }
            let pages = try RunPages(folder: folder)
            made += try pages.write()
            return Rebuilt(folder: folder, files: made, note: pages.contents.dataProblem.map {
                "\($0); `runner report --evaluate \(folder)` makes it from the final checkpoint"
            })
        }
    }

    /// report-data.bin for a run folder from its final checkpoint: the model evaluated on the test
    /// set (for a finished run), its training digits and augmentation from the stored experiment.
    static func makeReportData(_ folder: String, options: RunOptions, console: Console) throws -> ReportData {
        let report = try RunReport.read(runDirectory: folder)
        let trained = try TrainedModel(folder, threads: options.threads)
        var options = options
        options.dataDirectory = options.dataDirectory ?? trained.header.experiment.dataDirectory
        let dataset = try trained.spec.locator(path: trained.header.experiment.file, options: options, console: console)
            .load(trained.header.dataset)
        let (training, validation) = Subset.split(dataset.train, validationFraction: trained.spec.train.validationSplit)
        let probabilities = report.status == .finished
            ? trained.trainer.evaluateWithProbabilities(Subset(dataset.test), batchSize: trained.spec.evaluationBatchSize).1
            : nil
        let augment = trained.spec.preprocess.augment
        let augmentation = augment.isIdentity ? nil
            : ReportData.AugmentationSource(trainer: trained.trainer, settings: augment, shuffle: trained.spec.train.shuffle,
                                            epochs: trained.spec.train.epochs)
        return ReportData.make(runID: report.runID, dataset: dataset, training: training, validation: validation,
                               augmentation: augmentation, test: probabilities)
    }
}
