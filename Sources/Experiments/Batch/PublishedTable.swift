// "Published and reproduced": for each experiment of a comparison that names a `published:`
// figure, that figure beside the reproduced one — the mean ± sample standard deviation over the
// runs that differ only by seed, or the single run's figure — with the difference, the file's
// `expect:` gate and the source. A section of comparison.md and of the console output, and three
// columns of comparison.csv; comparison.json has `published` in each run.
import NeuralNetwork

extension Comparison {
    /// The seed groups whose experiment names a published figure, in the groups' order.
    var publishedGroups: [SeedGroup] { groups.filter { $0.runs.first?.published != nil } }

    /// One line per published figure (test accuracy, test loss) of each such group.
    func publishedTable() -> TextTable {
        var table = TextTable(columns: [
            .init(title: "name"), .init(title: "metric"), .init(title: "published", right: true),
            .init(title: "reproduced", right: true), .init(title: "difference", right: true),
            .init(title: "runs", right: true), .init(title: "gate"), .init(title: "expect"),
        ])
        for group in publishedGroups {
            guard let published = group.runs.first?.published else { continue }
            let figures: [(String, Double?, (RunFigures) -> Double, (Double) -> String, (Double) -> String)] = [
                ("test_accuracy", published.testAccuracy, \.testAccuracy, Format.percent,
                 { String(format: "%+.2f pp", $0 * 100) }),
                ("test_loss", published.testLoss, \.testLoss, { Format.fixed($0, 4) }, { String(format: "%+.4f", $0) }),
            ]
            let done = group.completed
            for (metric, value, figure, text, difference) in figures {
                guard let value else { continue }
                let statistic = group.statistic(figure)
                let gates = group.runs.first?.expect?.checks.filter { $0.metric == metric }.map(\.condition) ?? []
                let checks = done.compactMap { $0.expect?.checks.first { $0.metric == metric } }
                table.rows.append([
                    group.label, metric, text(value),
                    statistic.map { text($0.mean) + ($0.std.map { " ± " + text($0) } ?? "") } ?? "–",
                    statistic.map { difference($0.mean - value) } ?? "–",
                    done.count == group.runs.count ? "\(done.count)" : "\(done.count) of \(group.runs.count)",
                    gates.isEmpty ? "–" : gates.joined(separator: ", "),
                    checks.isEmpty ? "–" : checks.allSatisfy(\.passed) ? "met"
                        : "MISSED (\(checks.filter { !$0.passed }.count) of \(checks.count))",
                ])
            }
        }
        return table
    }

    /// "name: source" for each group with a published figure.
    var publishedSources: [String] {
        publishedGroups.compactMap { group in group.runs.first?.published.map { "\(group.label): \($0.source)" } }
    }

    /// The console's (and comparison.md's) section, empty when no experiment names a published figure.
    func publishedSection(markdown: Bool) -> String {
        guard !publishedGroups.isEmpty else { return "" }
        let intro = "Reproduced: the mean ± sample standard deviation over the runs that differ only by seed "
            + "(a single run's figure otherwise); difference: reproduced − published."
        if markdown {
            return "\n## Published and reproduced\n\n" + intro + "\n\n" + publishedTable().markdown() + "\n\nSources:\n\n"
                + publishedSources.map { "- " + $0 }.joined(separator: "\n") + "\n"
        }
        return "\n\nPublished and reproduced (mean ± sample standard deviation over seeds; difference = "
            + "reproduced − published):\n" + publishedTable().console() + "\n" + publishedSources.map { "  " + $0 }.joined(separator: "\n")
    }

    /// comparison.csv's columns for a run's published figure.
    static let publishedCSVHeader = ["published_test_accuracy", "published_test_loss", "published_source"]

    static func publishedCSVFields(_ row: ComparisonRow) -> [String] {
        guard let p = row.published else { return ["", "", ""] }
        return [p.testAccuracy.map(jsonNumber) ?? "", p.testLoss.map(jsonNumber) ?? "", p.source]
    }
}
