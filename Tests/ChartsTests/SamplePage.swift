// A sample page and notebook composed of every figure kind: what the browser and nbformat tests
// check, and what a person looks at (set CHARTS_SAMPLE_DIR to keep the page, its screenshots,
// the PDF and the notebook there).
import Charts
import TestSupport

extension Samples {
    static let yaml = """
    name: lenet5
    description: LeCun et al. 1998, with ReLU & max-pooling <classic>
    seed: 42
    model:
      - conv2d: {filters: 6, kernel_size: 5, padding: same, activation: relu}
      - max_pooling2d: {pool_size: 2}
      - conv2d: {filters: 16, kernel_size: 5, activation: relu}
      - max_pooling2d: {pool_size: 2}
      - flatten: {}
      - dense: {units: 120, activation: relu}
      - dense: {units: 84, activation: relu}
      - dense: {units: 10, activation: softmax}
    """

    static func metricsTable() -> Table {
        Table(columns: [.init("Epoch", numeric: true), .init("Loss", numeric: true), .init("Accuracy", numeric: true),
                        .init("Validation loss", numeric: true), .init("Validation accuracy", numeric: true), .init("Note")],
              rows: (0..<12).map { e in
                  let c = curves()
                  return [String(e + 1), Format.fixed(c.trainLoss[e].y, decimals: 4), Format.percent(c.trainAcc[e].y),
                          Format.fixed(c.validLoss[e].y, decimals: 4), Format.percent(c.validAcc[e].y), e == 6 ? "best" : ""]
              })
    }

    /// A page with every kind of figure, laid out like a run report.
    static func page() -> HTMLPage {
        HTMLPage(title: "lenet5 — sample report <&>", header: [
            .callout("Finished: 12 epochs, early stop after epoch 10.", tone: .good),
            .metrics([("test accuracy", "98.93%"), ("test loss", "0.0341"), ("seconds", "212.4")]),
            .facts([("Seed", "42"), ("Weight hash", "cd3b59d2c7a13913a571a0c9efdba4e48d72d9d30a98cad8a1b177f0825cfe8e"),
                    ("Command", "runner experiments/lenet5.yaml --epochs 12")]),
        ], sections: [
            Section("Load data", blocks: [
                .sideBySide(source: "dataset: mnist\nvalidation_split: 0.1", output: [
                    .paragraph("60,000 training and 10,000 test digits; checksums verified."),
                    .figure(classCounts()),
                ]),
                .figure(trainingDigits(), caption: "Ten training digits of each class, as stored."),
            ]),
            Section("Build model", blocks: [.sideBySide(source: yaml, output: [.figure(layers())])]),
            Section("Compile", blocks: [.figure(scheduleChart())]),
            Section("Train", blocks: [
                .figure(lossChart(), caption: "Dashed: training; solid: validation."),
                .figure(accuracyChart()),
                .table(metricsTable()),
            ]),
            Section("Evaluate", blocks: [.figure(confusion()), .figure(perClass())]),
            Section("Sample output", blocks: [.gallery(predictions(), caption: "Green: right; red: wrong.")]),
            Section("Compare", blocks: [.figure(sweepChart()), .figure(scatter())]),
        ], footer: [.paragraph("Made by runner 0.9 from the run folder alone.")])
    }

    /// A notebook with every kind of output.
    static func notebook() -> Notebook {
        let table = metricsTable()
        return Notebook(cells: [
            .markdown("# lenet5\nA sample report: *every* output kind.\n"),
            .code(yaml, outputs: [.stdout("Loaded 60,000 training digits\nand 10,000 test digits\n")]),
            .code("model.summary()", outputs: [.svg(layers().svg(), text: "<Figure: model>")]),
            .code("history", outputs: [.svg(lossChart().svg(), text: "<Figure: loss>"), .html(table.html(), text: table.plainText())]),
            .code("x_test[0]", outputs: [.png(PNG.gray(digit(7), width: 28, height: 28), text: "<Image 28×28>")]),
            .markdown("Done — tab\there, quote \" and backslash \\ and a control \u{01} character."),
        ], language: "yaml")
    }
}
