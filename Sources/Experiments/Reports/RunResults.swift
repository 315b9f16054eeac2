// The report's later sections: training curves with their events, the test results (confusion
// heat map, per-class precision / recall / F1), the captioned test digits and the provenance.
import Charts
import Foundation
import NeuralNetwork
import Training

extension RunSections {
    // MARK: - Train

    /// Early stopping, the best epoch, resumes and a divergence as markers on the epoch axis.
    func events() -> [EventMarker] {
        var events: [EventMarker] = []
        if let stopping = report.earlyStopping {
            if let best = stopping.bestEpoch {
                events.append(EventMarker(x: Double(best), label: "best epoch" + (stopping.restoredBestWeights ? " (restored)" : "")))
            }
            if let stopped = stopping.stoppedEpoch { events.append(EventMarker(x: Double(stopped), label: "early stop")) }
        } else if let best = keepBestEpoch() {
            events.append(EventMarker(x: Double(best), label: "best.ckpt"))
        }
        if let steps = contents.stepsPerEpoch {
            for resume in report.resumes {
                events.append(EventMarker(x: Double(resume.step) / Double(steps), label: "resumed", color: Palette.color(4)))
            }
            if let d = report.divergence {
                events.append(EventMarker(x: Double(d.step - 1) / Double(steps), label: "diverged", color: Color.bad))
            }
        }
        return events
    }

    /// The epoch (from 1) whose end best.ckpt holds (train.checkpoint.keep_best), when kept.
    func keepBestEpoch() -> Int? {
        guard let keep = contents.spec?.train.checkpoint.keepBest else { return nil }
        let values = report.epochs.map { e -> Double? in
            switch keep.monitor {
            case .loss: e.loss
            case .accuracy: e.accuracy
            case .valLoss: e.valLoss
            case .valAccuracy: e.valAccuracy
            }
        }
        let maximize = keep.mode == .max || (keep.mode == .auto && keep.monitor.rawValue.hasSuffix("accuracy"))
        var best: (Int, Double)?
        for (i, v) in values.enumerated() {
            guard let v else { continue }
            if best == nil || (maximize ? v > best!.1 : v < best!.1) { best = (i + 1, v) }
        }
        return best?.0
    }

    func train() -> PageSection {
        let epochs = report.epochs
        var blocks: [Block] = []
        if epochs.isEmpty {
            blocks.append(.paragraph("No epoch finished."))
        } else {
            let x = epochs.map { Double($0.epoch) }
            func curves(_ title: String, _ train: [Double], _ valid: [Double?], _ axis: Axis, _ color: Int) -> Block {
                var series = [Series("training", x: x, y: train, color: Palette.color(color), dash: .dashed, markers: true)]
                if valid.contains(where: { $0 != nil }) {
                    series.append(Series("validation", x: x, y: valid.map { $0 ?? .nan }, color: Palette.color(color), markers: true))
                }
                return .figure(LineChart(title: title, xAxis: Axis("Epoch", integers: true), yAxis: axis, series: series,
                                         events: events(), height: 320))
            }
            blocks.append(curves("Loss", epochs.map(\.loss), epochs.map(\.valLoss), Axis("Loss"), 0))
            blocks.append(curves("Accuracy", epochs.map(\.accuracy), epochs.map(\.valAccuracy),
                                 Axis("Accuracy", format: .percent), 1))
            blocks.append(.paragraph("Dashed: training (the epoch's running average, as Keras shows it); solid: validation."))
            let scheduled = Set(epochs.map(\.learningRate)).count > 1
            let hasValidation = epochs.contains { $0.valLoss != nil }
            var columns = [Charts.Table.Column("epoch", numeric: true), .init("loss", numeric: true), .init("accuracy", numeric: true)]
            if hasValidation { columns += [.init("val_loss", numeric: true), .init("val_accuracy", numeric: true)] }
            if scheduled { columns.append(.init("learning rate", numeric: true)) }
            columns += [.init("seconds", numeric: true), .init("images/s", numeric: true)]
            let rows = epochs.map { e -> [String] in
                var row = [String(e.epoch), PageNumber.loss(e.loss), PageNumber.loss(e.accuracy)]
                if hasValidation { row += [e.valLoss.map(PageNumber.loss) ?? "–", e.valAccuracy.map(PageNumber.loss) ?? "–"] }
                if scheduled { row.append(jsonNumber(e.learningRate)) }
                return row + [PageNumber.seconds(e.seconds), PageNumber.count(Int(e.imagesPerSecond.rounded()))]
            }
            blocks.append(.table(Charts.Table(columns: columns, rows: rows, caption: "Per epoch (report.json's epochs)")))
            if epochs.count > 1 {
                blocks.append(.figure(BarChart(title: "Seconds per epoch", categories: epochs.map { String($0.epoch) },
                                               groups: [BarChart.Group("", values: epochs.map(\.seconds))], xLabel: "Epoch",
                                               yAxis: Axis("Seconds"), valueDecimals: 2, height: 260),
                                      caption: "Training steps and the validation pass; median "
                                          + "\(PageNumber.seconds(report.timing.secondsPerEpochMedian)) s."))
            }
        }
        if let d = report.divergence {
            blocks.append(.callout("Stopped at epoch \(d.epoch), step \(d.step): the \(d.quantity) was \(d.value). "
                                   + (d.lastGoodCheckpoint.map { "Last good checkpoint: \($0)." } ?? "No checkpoint with finite weights."),
                                   tone: .bad))
        }
        return PageSection(title: "Train", intro: "Loss and accuracy per epoch, on the training and validation images.",
                           source: contents.yamlSection(["train"]), blocks: blocks)
    }

    // MARK: - Evaluate

    func evaluate() -> PageSection {
        guard let test = report.test else {
            return PageSection(title: "Evaluate", intro: "The model on the test set.", source: contents.yamlSection(["evaluate"]),
                               blocks: [.paragraph("Not evaluated: the run \(report.status.rawValue) before the test.")])
        }
        let m = test.confusionMatrix, n = m.count
        let support = m.map { $0.reduce(0, +) }
        let predicted = (0..<n).map { j in m.reduce(0) { $0 + $1[j] } }
        func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
        let precision = (0..<n).map { ratio(m[$0][$0], predicted[$0]) }
        let recall = (0..<n).map { ratio(m[$0][$0], support[$0]) }
        let f1 = (0..<n).map { precision[$0] + recall[$0] == 0 ? 0 : 2 * precision[$0] * recall[$0] / (precision[$0] + recall[$0]) }
        var blocks: [Block] = [
            .metrics([("test accuracy", PageNumber.percent(test.accuracy)), ("test loss", PageNumber.loss(test.loss)),
                      ("test images", PageNumber.count(test.images))]),
            .figure(HeatMap.confusion(title: "Confusion matrix (test set)", classes: test.classNames, counts: m),
                    caption: "Rows: the true class; columns: the model's prediction. Off the diagonal: the mistakes."),
        ]
        let rows = (0..<n).map { i in
            [test.classNames[i], PageNumber.percent(precision[i]), PageNumber.percent(recall[i]), PageNumber.percent(f1[i]),
             PageNumber.count(support[i])]
        }
        blocks.append(.table(Charts.Table(columns: [.init("class"), .init("precision", numeric: true), .init("recall", numeric: true),
                                                   .init("F1", numeric: true), .init("images", numeric: true)],
                                         rows: rows, caption: "Per class, from the confusion matrix")))
        blocks.append(.figure(BarChart(title: "Precision, recall and F1 per class", categories: test.classNames, groups: [
            .init("precision", values: precision), .init("recall", values: recall), .init("F1", values: f1),
        ], xLabel: "Class", yAxis: Axis("", min: max(0, ((([precision, recall, f1].flatMap { $0 }.min() ?? 0) - 0.02) * 50).rounded(.down) / 50),
                                     max: 1, format: .percent), height: 300)))
        if let chance = chanceLevel(test) { blocks.append(.callout(chance, tone: .warning)) }
        return PageSection(title: "Evaluate", intro: "The trained model on the \(PageNumber.count(test.images)) test images.",
                           source: contents.yamlSection(["evaluate", "expect"]), blocks: blocks)
    }

    // MARK: - Sample output

    /// A test digit captioned like the notebook, with its top-3 probabilities.
    func predictionItem(_ data: ReportData, index: Int, pixels: [UInt8]) -> ImageGrid.Item {
        let names = data.header.classNames
        let ranked = data.probabilities(of: index).enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }
        return .prediction(pixels: pixels, width: data.header.imageShape[1], height: data.header.imageShape[0],
                           predicted: names[data.predicted(index)], actual: names[Int(data.test!.labels[index])],
                           probabilities: ranked.prefix(3).map { (label: names[$0.offset], value: Double($0.element)) })
    }

    func sampleOutput() -> PageSection {
        var blocks: [Block] = []
        let source = "# model.predict(x_test): the first test digits,\n# then the mistakes it was most sure of"
        if let data, let test = data.test {
            let first = (0..<data.header.testFirst).map { predictionItem(data, index: $0, pixels: data.image(test.first, $0)) }
            let right = (0..<data.header.testFirst).filter { data.predicted($0) == Int(test.labels[$0]) }.count
            blocks.append(.gallery(ImageGrid(title: "The first \(first.count) test digits", items: first, scale: 2),
                                   caption: "\(right) of \(first.count) right. Bars: the three most probable classes."))
            let mistakes = data.header.mistakes ?? []
            let shown = Array(mistakes.prefix(24))
            if !shown.isEmpty {
                let items = shown.enumerated().map { predictionItem(data, index: $0.element, pixels: data.image(test.mistakes, $0.offset)) }
                blocks.append(.gallery(ImageGrid(title: "The most confident mistakes", items: items, scale: 2),
                                       caption: "\(shown.count) of the \(PageNumber.count(data.header.mistakesTotal ?? mistakes.count)) "
                                           + "test digits the model got wrong, those it was surest of first."))
            }
        } else if report.test != nil {
            blocks.append(missingData)
        } else {
            blocks.append(.paragraph("No predictions: the run \(report.status.rawValue) before the test."))
        }
        return PageSection(title: "Sample output", intro: "Test digits as the notebook shows them: prediction, label, right or wrong.",
                           source: source, blocks: blocks, wide: true)
    }

    // MARK: - Provenance

    func provenance() -> PageSection {
        let v = report.versions
        var facts: [(name: String, value: String)] = [
            ("runner commit", v.runnerCommit), ("Swift", v.swift), ("matrix products", v.productsText),
            ("OpenBLAS", "\(v.openblasConfig); kernel \(v.openblasCore)"),
            ("CPU", "\(v.cpu), \(v.cores) cores, \(v.threads) threads used"), ("OS", v.os),
            ("experiment SHA-256", report.experimentSHA256),
        ]
        for file in report.dataset?.files ?? [] { facts.append(("\(file.name) SHA-256", file.sha256)) }
        facts.append(("weight SHA-256", report.weightSHA256 ?? "–"))
        facts.append(("checkpoint", report.checkpoint ?? "–"))
        facts.append(("resumes", report.resumes.isEmpty ? "none: trained in one go"
                      : report.resumes.map { "at step \($0.step) (\($0.at))" }.joined(separator: "; ")))
        facts.append(("peak memory", NeuralNetwork.Format.bytes(report.peakMemoryBytes)))
        return PageSection(title: "Provenance", intro: "What produced these numbers, to reproduce or compare them.",
                           source: "", blocks: [.facts(facts)])
    }
}
