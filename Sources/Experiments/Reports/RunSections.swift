// The sections of a run's report, in the notebook's order: load data, preprocess, build model,
// compile, train, evaluate, sample output, provenance; and the header above them. Every number
// is report.json's (or, for the digits, report-data.bin's), written with one format per kind.
import Charts
import Foundation
import NeuralNetwork
import Training
import Yams

/// The number formats of the pages (the tests read numbers back with the same ones).
enum PageNumber {
    static func percent(_ x: Double) -> String { Charts.Format.percent(x, decimals: 2) }
    static func loss(_ x: Double) -> String { Charts.Format.fixed(x, decimals: 4) }
    static func seconds(_ x: Double) -> String { Charts.Format.fixed(x, decimals: 2) }
    static func count(_ n: Int) -> String { Charts.Format.grouped(n) }
}

struct RunSections {
    let contents: RunFolderContents
    var report: RunReport { contents.report }
    var data: ReportData? { contents.data }
    var classNames: [String] { report.test?.classNames ?? data?.header.classNames ?? [] }

    init(_ contents: RunFolderContents) { self.contents = contents }

    func all() -> [PageSection] {
        [loadData(), preprocess(), buildModel(), compile(), train(), evaluate(), sampleOutput(), provenance()]
    }

    // MARK: - Header

    func header() -> [Block] {
        var blocks: [Block] = []
        switch report.status {
        case .finished: break
        case .interrupted:
            blocks.append(.callout("Interrupted: \(report.error ?? "stopped by a signal"). The report shows what the run "
                                   + "had done by then; `runner resume \(contents.folder)` goes on from its checkpoint.",
                                   tone: .warning))
        case .diverged:
            blocks.append(.callout("Diverged: \(report.error ?? "the training loss was not finite").", tone: .bad))
        case .failed:
            blocks.append(.callout("Failed: \(report.error ?? "unknown error")", tone: .bad))
        }
        if let test = report.test {
            blocks.append(.metrics([("test accuracy", PageNumber.percent(test.accuracy)),
                                    ("test loss", PageNumber.loss(test.loss)),
                                    ("epochs", String(report.epochs.count)),
                                    ("seconds of training", PageNumber.seconds(report.timing.trainSeconds))]))
            if let chance = chanceLevel(test) { blocks.append(.callout(chance, tone: .warning)) }
        } else {
            blocks.append(.metrics([("status", report.status.rawValue), ("epochs done", String(report.epochs.count))]))
        }
        let v = report.versions
        var facts: [(name: String, value: String)] = [("status", report.status.rawValue)]
        if let description = contents.spec?.description { facts.append(("description", description)) }
        if let command = report.command { facts.append(("command", command)) }
        facts += [("experiment", report.experimentFile), ("seed", String(report.seed)),
                  ("weight hash", report.weightSHA256 ?? "– (the run did not finish)"),
                  ("runner commit", v.runnerCommit + " (Swift \(v.swift))"),
                  ("date", "started \(report.startedAt), ended \(report.finishedAt)"),
                  ("machine", "\(v.cpu), \(v.cores) cores (\(v.threads) used), \(v.os)"),
                  ("matrix products", v.productsText)]
        blocks.append(.facts(facts))
        return blocks
    }

    /// A warning when the test accuracy is no better than always naming the commonest class.
    func chanceLevel(_ test: TestRecord) -> String? {
        let rows = test.confusionMatrix.map { $0.reduce(0, +) }
        let total = rows.reduce(0, +)
        guard total > 0, let most = rows.max() else { return nil }
        let share = Double(most) / Double(total)
        guard test.accuracy <= share + 0.02 else { return nil }
        return "The test accuracy \(PageNumber.percent(test.accuracy)) is at chance level: naming the commonest class "
            + "every time would score \(PageNumber.percent(share)). The model learned nothing — often a learning rate "
            + "too high for the model (its loss stayed finite, so the run was not stopped as diverged)."
    }

    /// Said where a picture needs report-data.bin and the folder has none.
    var missingData: Block {
        .callout("Not shown: \(contents.dataProblem ?? "no report data"). `runner report --evaluate \(contents.folder)` "
                 + "makes it from the run's final checkpoint and the dataset (no training), then draws these pictures.",
                 tone: .info)
    }

    // MARK: - Load data

    func loadData() -> PageSection {
        var blocks: [Block] = []
        guard let dataset = report.dataset else {
            return PageSection(title: "Load data", intro: "The dataset could not be loaded.",
                               source: contents.yamlSection(["data"]), blocks: [.callout(report.error ?? "no data", tone: .bad)])
        }
        blocks.append(.paragraph("\(dataset.name) from \(dataset.directory) (\(dataset.origin)); the SHA-256 of its "
                                 + "\(dataset.files.count) files verified. \(PageNumber.count(dataset.trainImages)) training, "
                                 + "\(PageNumber.count(dataset.validationImages)) validation and "
                                 + "\(PageNumber.count(dataset.testImages)) test images."))
        if let data {
            var groups = [BarChart.Group("training", values: data.header.trainClassCounts.map(Double.init))]
            if let validation = data.header.validationClassCounts {
                groups.append(BarChart.Group("validation", values: validation.map(Double.init)))
            }
            if let test = report.test { groups.append(BarChart.Group("test", values: test.confusionMatrix.map { Double($0.reduce(0, +)) })) }
            blocks.append(.figure(BarChart(title: "Images per class", categories: data.header.classNames, groups: groups,
                                           xLabel: "Class", yAxis: Axis("Images", format: .si))))
            let perRow = ReportData.samplesPerClass
            let items = (0..<data.header.trainingSamples.count).map {
                ImageGrid.Item(pixels: data.image(data.trainImages, $0), width: data.header.imageShape[1],
                               height: data.header.imageShape[0])
            }
            blocks.append(.figure(ImageGrid(title: "Training digits, \(perRow) per class", items: items, columns: perRow,
                                            scale: 2, rowLabels: data.header.classNames),
                                  caption: "The first \(perRow) of each class in the training split, as stored (white on black)."))
        } else {
            blocks.append(missingData)
        }
        return PageSection(title: "Load data", intro: "Where the data came from, how it was split, and what it looks like.",
                           source: contents.yamlSection(["data"]) + "\n" + trainKeys(["validation_split"]), blocks: blocks)
    }

    /// `train:` with only the keys given, each with what is nested under it.
    func trainKeys(_ keys: [String]) -> String {
        var out = ["train:"], keep = false
        for line in contents.yamlSection(["train"]).split(separator: "\n").dropFirst() {
            if line.hasPrefix("  ") && !line.hasPrefix("   ") { keep = keys.contains { line.hasPrefix("  \($0):") } }
            if keep { out.append(String(line)) }
        }
        return out.joined(separator: "\n")
    }

    // MARK: - Preprocess

    func preprocess() -> PageSection {
        var blocks: [Block] = []
        if let p = report.preprocessing {
            var facts: [(name: String, value: String)] = [("scale", "pixels / \(Charts.Format.coordinate(p.scale))")]
            if p.standardize, let mean = p.mean, let std = p.std {
                facts.append(("standardize", "minus the training images' mean \(Charts.Format.fixed(mean, decimals: 4)), "
                              + "divided by their std \(Charts.Format.fixed(std, decimals: 4))"))
            }
            if let spec = contents.spec {
                facts.append(("labels", spec.preprocess.oneHot ? "one-hot rows (to_categorical)" : "class indices"))
                let a = spec.preprocess.augment
                facts.append(("augmentation", a.isIdentity ? "none"
                              : "per image and epoch: shift up to \(a.shift) of the size, rotation up to \(a.rotation)°, zoom up to \(a.zoom)"))
            }
            facts.append(("input", "pixel × \(jsonNumber(p.inputScale)) " + (p.inputShift < 0 ? "− \(jsonNumber(-p.inputShift))"
                                                                          : "+ \(jsonNumber(p.inputShift))")))
            blocks.append(.facts(facts))
        }
        if let data, let augmented = data.header.augmentation, let original = data.augmentOriginal, let warped = data.augmentWarped {
            let epochs = augmented.epochs.count, shape = data.header.imageShape
            var items: [ImageGrid.Item] = []
            for i in augmented.indices.indices {
                items.append(ImageGrid.Item(pixels: data.image(original, i), width: shape[1], height: shape[0],
                                            captions: [.init("original")]))
                for (e, epoch) in augmented.epochs.enumerated() {
                    items.append(ImageGrid.Item(pixels: data.image(warped, i * epochs + e), width: shape[1], height: shape[0],
                                                captions: [.init("epoch \(epoch + 1)")]))
                }
            }
            blocks.append(.figure(ImageGrid(title: "Augmentation as the trainer draws it", items: items,
                                            columns: 2 * (1 + epochs), scale: 2),
                                  caption: "Each training digit, then its random shift, rotation and zoom in the first epochs "
                                      + "(the same seeded stream the trainer uses; inputs are never augmented at test time)."))
        } else if contents.spec.map({ !$0.preprocess.augment.isIdentity }) == true {
            blocks.append(missingData)
        }
        if blocks.isEmpty { blocks.append(.paragraph("Nothing was preprocessed: the run stopped before its data was loaded.")) }
        return PageSection(title: "Preprocess", intro: "How pixels became the model's inputs.",
                           source: contents.yamlSection(["preprocess"]), blocks: blocks)
    }

    // MARK: - Build model

    func buildModel() -> PageSection {
        var blocks: [Block] = []
        if let compiled = contents.compiled { blocks.append(.code(compiled.model.summary())) }
        let inputShape = contents.compiled.map { "(None, " + $0.model.inputShape.dims.map(String.init).joined(separator: ", ") + ")" }
        let layers = (inputShape.map { [LayerDiagram.Layer(name: "input", kind: "Input", outputShape: $0, parameters: nil)] } ?? [])
            + report.layers.map { LayerDiagram.Layer(name: $0.name, kind: $0.type, outputShape: Shape($0.outputShape).description,
                                                     parameters: $0.parameters) }
        blocks.append(.figure(LayerDiagram(title: "Model: \(contents.compiled?.model.name ?? report.name)", layers: layers,
                                           footer: "Total: \(PageNumber.count(report.parameters)) parameters")))
        return PageSection(title: "Build model", intro: "The layers, their output shapes and parameter counts.",
                           source: contents.yamlSection(["model"]), blocks: blocks)
    }

    // MARK: - Compile

    func compile() -> PageSection {
        var blocks: [Block] = []
        if let spec = contents.spec, let compiled = contents.compiled, let steps = contents.stepsPerEpoch {
            let rate = LearningRate(base: compiled.optimizer.learningRate, schedule: spec.train.lrSchedule.schedule,
                                    warmup: spec.train.lrSchedule.warmup, stepsPerEpoch: steps, epochs: spec.train.epochs)
            let total = steps * spec.train.epochs
            let every = max(1, (total + 599) / 600)
            let points = Array(stride(from: 0, to: total, by: every)) + [total - 1]
            blocks.append(.facts([("optimizer", compiled.optimizer.name), ("loss", compiled.loss.name),
                                  ("learning rate", "\(compiled.optimizer.learningRate)"
                                   + (rate.isScheduled ? ", scheduled (\(spec.train.lrSchedule.schedule.name))" : ", constant")),
                                  ("steps", "\(PageNumber.count(steps)) per epoch, \(PageNumber.count(total)) in \(spec.train.epochs) epoch\(spec.train.epochs == 1 ? "" : "s")")]))
            blocks.append(.figure(LineChart(title: "Learning rate at every step", xAxis: Axis("Step", format: .si),
                                            yAxis: Axis("Learning rate", min: 0),
                                            series: [Series("", points: points.map { Point(Double($0), Double(rate.rate($0))) })],
                                            height: 300),
                                  caption: "From the resolved experiment's schedule; the YAML beside lists every value the run used."))
        } else {
            blocks.append(.paragraph("The schedule cannot be drawn: the run has no data split or its experiment.yaml no longer builds."))
        }
        return PageSection(title: "Compile", intro: "The optimizer, the loss and the learning rate over the steps.",
                           source: contents.yamlSection(["compile"]) + "\n" + trainKeys(["epochs", "batch_size", "lr_schedule"]),
                           blocks: blocks)
    }
}
