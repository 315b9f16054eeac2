// comparison.html and comparison.ipynb: the comparison's table, every run's curves overlaid on
// shared axes (by epoch and by seconds; a sweep's seed groups as mean ± std bands), test accuracy
// against parameters and training time, per-class recall side by side, and the test digits on
// which the models disagree — drawn from comparison.json and each run's folder alone.
import Charts
import Foundation
import NeuralNetwork

/// The pages of a comparison folder.
public struct ComparisonPages {
    public static let fileNames = ["comparison.html", "comparison.ipynb"]

    /// One run of the comparison with what its folder holds.
    struct Run {
        let row: ComparisonRow
        let report: RunReport?
        let data: ReportData?
    }

    let comparison: Comparison
    let runs: [Run]
    let sections: [PageSection]
    let header: [Block]

    /// Reads every run's report.json and report-data.bin (a folder that is gone is shown as such).
    public init(_ comparison: Comparison) {
        self.comparison = comparison
        runs = comparison.sortedRows.map { row in
            guard let directory = row.runDirectory, let report = try? RunReport.read(runDirectory: directory) else {
                return Run(row: row, report: nil, data: nil)
            }
            let data = try? ReportData.read((directory as NSString).appendingPathComponent(ReportData.fileName))
            return Run(row: row, report: report, data: data)
        }
        let drawn = ComparisonSections(comparison: comparison, runs: runs)
        header = drawn.header()
        sections = drawn.all()
    }

    var title: String { "Comparison: \(comparison.batch.slug)" }

    public var html: String {
        HTMLPage(title: title, header: header,
                 sections: sections.map { Charts.Section($0.title, blocks: [.paragraph($0.intro)] + $0.blocks) },
                 footer: [.paragraph("Made by runner from comparison.json and the runs' folders; "
                                     + "`runner report <this folder>` makes it again.")]).render()
    }

    public var notebook: String {
        var cells: [Notebook.Cell] = [.markdown("# \(title)")]
        if !header.isEmpty { cells.append(.code("# comparison.json", outputs: header.flatMap(\.notebookOutputs))) }
        for section in sections {
            cells.append(.markdown("## \(section.title)\n\n\(section.intro)"))
            cells.append(.code("# " + section.title.lowercased(), outputs: section.blocks.flatMap(\.notebookOutputs)))
        }
        return Notebook(cells: cells).render()
    }

    /// Writes both pages into `folder`, atomically.
    public func write(to folder: String) throws {
        for (name, text) in zip(Self.fileNames, [html, notebook]) {
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder).appendingPathComponent(name), options: .atomic)
        }
    }
}

struct ComparisonSections {
    let comparison: Comparison
    let runs: [ComparisonPages.Run]

    var reported: [ComparisonPages.Run] { runs.filter { $0.report.map { !$0.epochs.isEmpty } ?? false } }

    func all() -> [PageSection] {
        var sections = [table(), curves(byTime: false), curves(byTime: true), scatter(), recall(), disagreements()]
        let changed = comparison.changedKeys
        if !changed.isEmpty {
            sections.append(PageSection(title: "Experiment keys that differ", intro: "Each key of the resolved experiments "
                                            + "whose value is not the same in every run (comparison.md lists them all).",
                                        source: "", blocks: [.table(pageTable(comparison.settingsTable(keys: changed)))]))
        }
        if !comparison.problems.isEmpty {
            sections.append(PageSection(title: "Problems", intro: "Runs that did not finish or missed an expectation.",
                                        source: "", blocks: comparison.problems.map { .callout($0, tone: .bad) }))
        }
        return sections
    }

    func header() -> [Block] {
        let done = comparison.rows.filter(\.status.completed).count
        var facts: [(name: String, value: String)] = [("runs", "\(comparison.rows.count) (\(done) completed)"),
                                                     ("files", comparison.batch.files.joined(separator: ", "))]
        if let best = comparison.rows.compactMap({ row in row.results.map { (row.label, $0.testAccuracy) } }).max(by: { $0.1 < $1.1 }) {
            facts.insert(("best test accuracy", "\(PageNumber.percent(best.1)) (\(best.0))"), at: 0)
        }
        return [.facts(facts)]
    }

    /// A TextTable as a page table.
    func pageTable(_ table: TextTable, caption: String = "") -> Charts.Table {
        Charts.Table(columns: table.columns.map { Charts.Table.Column($0.title, numeric: $0.right) }, rows: table.rows, caption: caption)
    }

    func table() -> PageSection {
        var blocks: [Block] = [.table(pageTable(comparison.runsTable(hashDigits: 12)))]
        if comparison.hasSeedGroups {
            blocks.append(.table(pageTable(comparison.seedTable(),
                                           caption: "Across seeds: mean ± sample standard deviation (divisor n − 1)")))
        }
        return PageSection(title: "Runs", intro: "Each run's figures, from its report.json (as in comparison.md).",
                           source: "", blocks: blocks)
    }

    /// Each run's (or, for a sweep, each seed group's mean ± std) validation and training curves.
    func curves(byTime: Bool) -> PageSection {
        let grouped = comparison.hasSeedGroups
        func points(_ report: RunReport, _ value: (EpochRecord) -> Double?, byTime: Bool = byTime) -> [Point] {
            var seconds = 0.0
            return report.epochs.map { e in
                seconds += e.seconds
                return Point(byTime ? seconds : Double(e.epoch), value(e) ?? .nan)
            }
        }
        func chart(_ title: String, _ axis: Axis, train: @escaping (EpochRecord) -> Double?,
                   valid: @escaping (EpochRecord) -> Double?) -> Block {
            var series: [Series] = []
            if grouped {
                for (g, group) in comparison.groups.enumerated() {
                    let reports = group.runs.compactMap { row in reported.first { $0.row.index == row.index }?.report }
                    guard !reports.isEmpty else { continue }
                    let n = reports.count
                    // Each epoch at the seeds' mean time: the runs' own times differ, their epochs do not.
                    var elapsed: [Double: [Double]] = [:]
                    for report in reports {
                        for (i, p) in points(report, { _ in 0 }, byTime: true).enumerated() {
                            elapsed[Double(report.epochs[i].epoch), default: []].append(p.x)
                        }
                    }
                    func at(_ epoch: Double) -> Double {
                        guard byTime, let times = elapsed[epoch], !times.isEmpty else { return epoch }
                        return times.reduce(0, +) / Double(times.count)
                    }
                    for (name, value, dash) in [("validation", valid, Dash.solid), ("training", train, Dash.dashed)] {
                        let runs = reports.map { points($0, value, byTime: false) }
                        guard runs.contains(where: { $0.contains { $0.y.isFinite } }) else { continue }
                        var mean = Series.mean("\(group.label) \(name)\(n > 1 ? " (\(n) seeds)" : "")", of: runs,
                                               color: Palette.color(g), dash: dash)
                        mean.points = mean.points.map { Point(at($0.x), $0.y) }
                        mean.band = mean.band.map { BandPoint(x: at($0.x), low: $0.low, high: $0.high) }
                        series.append(mean)
                    }
                }
            } else {
                for (i, run) in reported.enumerated() {
                    for (name, value, dash) in [("validation", valid, Dash.solid), ("training", train, Dash.dashed)] {
                        let p = points(run.report!, value)
                        guard p.contains(where: { $0.y.isFinite }) else { continue }
                        series.append(Series("\(run.row.label) \(name)", points: p, color: Palette.color(i), dash: dash,
                                             markers: true))
                    }
                }
            }
            return .figure(LineChart(title: title, xAxis: byTime ? Axis("Seconds of training") : Axis("Epoch", integers: true),
                                     yAxis: axis, series: series, height: 380))
        }
        let blocks = reported.isEmpty ? [Block.paragraph("No run has a finished epoch.")] : [
            chart("Accuracy", Axis("Accuracy", format: .percent), train: { $0.accuracy }, valid: { $0.valAccuracy }),
            chart("Loss", Axis("Loss", scale: .log), train: { $0.loss }, valid: { $0.valLoss }),
            .paragraph("Solid: validation; dashed: training." + (grouped ? " Lines: the mean over seeds; bands: ± one standard deviation"
                                                                       + (byTime ? "; each epoch at the seeds' mean time." : ".") : "")),
        ]
        return PageSection(title: byTime ? "Curves by time" : "Curves by epoch",
                           intro: byTime ? "The same curves against the seconds each run had trained (epochs end at the points)."
                               : "Every run's curves on shared axes.", source: "", blocks: blocks)
    }

    func scatter() -> PageSection {
        let done = comparison.sortedRows.filter { $0.results != nil }
        func plot(_ title: String, _ axis: Axis, _ x: (RunFigures) -> Double) -> Block {
            .figure(ScatterPlot(title: title, xAxis: axis, yAxis: Axis("Test accuracy", format: .percent), groups: [
                ScatterPlot.Group("", items: done.map { ScatterPlot.Item(x: x($0.results!), y: $0.results!.testAccuracy, label: $0.label) }),
            ], height: 340))
        }
        let blocks: [Block] = done.isEmpty ? [.paragraph("No run finished.")] : [
            plot("Test accuracy against parameters", Axis("Parameters", scale: .log, format: .si), { Double($0.parameters) }),
            plot("Test accuracy against training time", Axis("Seconds of training"), { $0.trainSeconds }),
        ]
        return PageSection(title: "Accuracy, size and time", intro: "One point per run.", source: "", blocks: blocks)
    }

    func recall() -> PageSection {
        let tested = reported.filter { $0.report?.test != nil }
        guard let classes = tested.first?.report?.test?.classNames else {
            return PageSection(title: "Recall per class", intro: "", source: "", blocks: [.paragraph("No run was tested.")])
        }
        let groups = tested.prefix(8).map { run -> BarChart.Group in
            let m = run.report!.test!.confusionMatrix
            return BarChart.Group(run.row.label, values: m.indices.map { i in
                let n = m[i].reduce(0, +)
                return n == 0 ? 0 : Double(m[i][i]) / Double(n)
            })
        }
        let low = groups.flatMap(\.values).min() ?? 0
        return PageSection(title: "Recall per class", intro: "The share of each class's test digits each run got right"
                               + (tested.count > 8 ? " (the first 8 runs)." : "."), source: "", blocks: [
            .figure(BarChart(title: "Recall per class", categories: classes, groups: Array(groups), xLabel: "Class",
                             yAxis: Axis("Recall", min: max(0, ((low - 0.02) * 50).rounded(.down) / 50), max: 1, format: .percent),
                             height: 340)),
        ])
    }

    /// The test digits on which the runs' predictions differ, with each run's prediction.
    func disagreements() -> PageSection {
        let models = reported.filter { $0.data?.test != nil }.prefix(6)
        let title = "Where the models disagree"
        guard models.count >= 2, let first = models.first?.data, let test = first.test else {
            return PageSection(title: title, intro: "", source: "", blocks: [.paragraph(
                "Needs two or more tested runs with \(ReportData.fileName) (`runner report --evaluate RUN` makes it for older runs).")])
        }
        let names = first.header.classNames
        let count = test.labels.count
        let differ = (0..<count).filter { i in Set(models.map { $0.data!.predicted(i) }).count > 1 }
        var items: [ImageGrid.Item] = [], missing = 0
        for index in differ {
            guard items.count < 30 else { break }
            guard let pixels = models.lazy.compactMap({ $0.data!.testImage(index) }).first else { missing += 1; continue }
            let label = Int(test.labels[index])
            let captions = [ImageGrid.Caption("Actual label: \(names[label])")] + models.map { run in
                let p = run.data!.predicted(index)
                return ImageGrid.Caption("\(run.row.label): \(names[p])", tone: p == label ? .good : .bad)
            }
            items.append(ImageGrid.Item(pixels: pixels, width: first.header.imageShape[1], height: first.header.imageShape[0],
                                        captions: captions))
        }
        var blocks: [Block] = [.paragraph("The \(models.count) runs disagree on \(PageNumber.count(differ.count)) of the "
                                          + "\(PageNumber.count(count)) test digits; the first \(items.count) are shown. "
                                          + "Green: right; red: wrong.")]
        if !items.isEmpty { blocks.append(.gallery(ImageGrid(title: "", items: items, scale: 2))) }
        if missing > 0 {
            blocks.append(.paragraph("\(missing) of the digits looked at are in none of the runs' stored mistakes "
                                     + "(each run keeps its \(ReportData.mistakeLimit) most confident ones)."))
        }
        return PageSection(title: title, intro: "Test digits the compared models classify differently.", source: "", blocks: blocks)
    }
}
