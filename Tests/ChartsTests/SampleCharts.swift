// Sample data shaped like a real run's (curves, counts, a confusion matrix, a model), drawn by
// the tests and composed into the sample page.
import Charts
import Foundation
import TestSupport

enum Samples {
    static let classes = (0..<10).map(String.init)

    /// Training and validation curves over 12 epochs (loss falling, accuracy rising).
    static func curves() -> (trainLoss: [Point], validLoss: [Point], trainAcc: [Point], validAcc: [Point]) {
        var tl: [Point] = [], vl: [Point] = [], ta: [Point] = [], va: [Point] = []
        for e in 1...12 {
            let x = Double(e)
            tl.append(Point(x, 0.32 / x + 0.012 * Double(e % 3)))
            vl.append(Point(x, 0.30 / x + 0.045 + 0.002 * x))
            ta.append(Point(x, 1 - 0.09 / x))
            va.append(Point(x, 1 - 0.08 / x - 0.012))
        }
        return (tl, vl, ta, va)
    }

    static func lossChart() -> LineChart {
        let c = curves()
        return LineChart(title: "Loss", xAxis: Axis("Epoch", integers: true), yAxis: Axis("Loss", scale: .log), series: [
            Series("training", points: c.trainLoss, color: Palette.color(0), dash: .dashed, markers: true),
            Series("validation", points: c.validLoss, color: Palette.color(0), markers: true),
        ], events: [EventMarker(x: 7, label: "best epoch 7"), EventMarker(x: 4, label: "resumed"),
                    EventMarker(x: 10, label: "early stop (patience 3)")])
    }

    static func accuracyChart() -> LineChart {
        let c = curves()
        return LineChart(title: "Accuracy", xAxis: Axis("Epoch", integers: true), yAxis: Axis("Accuracy", format: .percent), series: [
            Series("training", points: c.trainAcc, color: Palette.color(1), dash: .dashed, markers: true),
            Series("validation", points: c.validAcc, color: Palette.color(1), markers: true),
        ], events: [EventMarker(x: 7, label: "best epoch")])
    }

    /// Three experiments of four seeds each, as mean ± std bands.
    static func sweepChart() -> LineChart {
        var series: [Series] = []
        for (k, name) in ["mlp", "lenet5", "cnn"].enumerated() {
            let runs = (0..<4).map { seed in
                (1...10).map { e -> Point in
                    let x = Double(e), kk = Double(k)
                    let rise: Double = 0.08 * (1 - 1 / x) * (1 - 0.1 * kk)
                    let noise: Double = 0.003 * Double((seed * 7 + e) % 5 - 2)
                    return Point(x, 0.88 + 0.02 * kk + rise + noise)
                }
            }
            series.append(.mean("\(name) (4 seeds)", of: runs))
        }
        return LineChart(title: "Validation accuracy, mean ± std over seeds", xAxis: Axis("Epoch", integers: true),
                         yAxis: Axis("Validation accuracy", format: .percent), series: series)
    }

    static func scheduleChart() -> LineChart {
        let steps = stride(from: 0, through: 4690, by: 10).map(Double.init)
        let lr = steps.map { 0.001 * 0.5 * (1 + cos(Double.pi * $0 / 4690)) }
        return LineChart(title: "Learning rate", xAxis: Axis("Step", format: .si), yAxis: Axis("Learning rate"),
                         series: [Series("cosine decay", x: steps, y: lr)], height: 260)
    }

    static func classCounts() -> BarChart {
        BarChart(title: "Training digits per class", categories: classes,
                 groups: [BarChart.Group("", values: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])],
                 xLabel: "Class", yAxis: Axis("Digits"), valueDecimals: 0)
    }

    static func perClass() -> BarChart {
        func v(_ base: Double, _ i: Int) -> Double { base + 0.004 * Double((i * 37) % 7) }
        return BarChart(title: "Per-class precision, recall and F1", categories: classes, groups: [
            BarChart.Group("precision", values: (0..<10).map { v(0.965, $0) }),
            BarChart.Group("recall", values: (0..<10).map { v(0.962, $0 + 3) }),
            BarChart.Group("F1", values: (0..<10).map { v(0.963, $0 + 5) }),
        ], xLabel: "Class", yAxis: Axis("Score", min: 0.9, max: 1, format: .percent))
    }

    static func scatter() -> ScatterPlot {
        ScatterPlot(title: "Test accuracy against parameters", xAxis: Axis("Parameters", scale: .log, format: .si),
                    yAxis: Axis("Test accuracy", format: .percent), groups: [
            ScatterPlot.Group("", items: [
                .init(x: 101_770, y: 0.9781, label: "mlp"),
                .init(x: 61_706, y: 0.9893, label: "lenet5"),
                .init(x: 1_199_882, y: 0.9921, label: "cnn"),
                .init(x: 1_199_882, y: 0.9917, label: "cnn seed 2"),
                .init(x: 235_146, y: 0.9812, label: "mlp-wide <b>"),
            ]),
        ])
    }

    static func confusion() -> HeatMap {
        let totals = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        var counts = (0..<10).map { _ in [Int](repeating: 0, count: 10) }
        for r in 0..<10 {
            var mistakes = 0
            for c in 0..<10 where c != r {
                let n = ((r * 7 + c * 3) % 11 == 0) ? 9 : ((r + c) % 4 == 0 ? 2 : (r * c) % 3 == 1 ? 1 : 0)
                counts[r][c] = n
                mistakes += n
            }
            counts[r][r] = totals[r] - mistakes
        }
        return HeatMap.confusion(classes: classes, counts: counts)
    }

    static func layers() -> LayerDiagram {
        LayerDiagram(title: "Model: lenet5", layers: [
            .init(name: "input", kind: "Input", outputShape: "28×28×1", parameters: nil),
            .init(name: "conv2d_1", kind: "Conv2D", outputShape: "28×28×6", parameters: 156),
            .init(name: "max_pooling2d_1", kind: "MaxPooling2D", outputShape: "14×14×6", parameters: 0),
            .init(name: "conv2d_2", kind: "Conv2D", outputShape: "10×10×16", parameters: 2_416),
            .init(name: "max_pooling2d_2", kind: "MaxPooling2D", outputShape: "5×5×16", parameters: 0),
            .init(name: "flatten", kind: "Flatten", outputShape: "400", parameters: 0),
            .init(name: "dense_1", kind: "Dense", outputShape: "120", parameters: 48_120),
            .init(name: "dense_2", kind: "Dense", outputShape: "84", parameters: 10_164),
            .init(name: "dense_3", kind: "Dense", outputShape: "10", parameters: 850),
        ], footer: "Total: 61,706 parameters (all trainable)")
    }
}
