// report.html and report.ipynb of a run, made from the run folder's files alone — report.json,
// experiment.yaml, report-data.bin — so that the run and `runner report` write the same bytes.
// The notebook's steps are the sections (RunSections.swift draws them); each shows the
// experiment's YAML for that step beside its output. A folder without report-data.bin (a run
// made before it existed) gets every picture that report.json allows and says how to get the rest.
import Charts
import Foundation
import NeuralNetwork
import Training
import Yams

/// What a run folder holds for its pages.
struct RunFolderContents {
    let folder: String
    let report: RunReport
    /// experiment.yaml ("" when missing).
    let yaml: String
    let data: ReportData?
    /// Why there is no report data (nil when there is).
    let dataProblem: String?
    /// The experiment rebuilt from experiment.yaml (nil when it no longer builds).
    let spec: ExperimentSpec?
    let compiled: CompiledModel?

    init(folder: String) throws {
        self.folder = folder
        report = try RunReport.read(runDirectory: folder)
        yaml = (try? String(contentsOfFile: (folder as NSString).appendingPathComponent("experiment.yaml"), encoding: .utf8)) ?? ""
        let dataPath = (folder as NSString).appendingPathComponent(ReportData.fileName)
        if !FileManager.default.fileExists(atPath: dataPath) {
            data = nil
            dataProblem = "this run folder has no \(ReportData.fileName) (runs made before it existed do not)"
        } else {
            do {
                data = try ReportData.read(dataPath)
                dataProblem = nil
            } catch {
                data = nil
                dataProblem = "\(error)".replacingOccurrences(of: "error: ", with: "")
            }
        }
        spec = try? ExperimentSpec.parse(yaml, path: (folder as NSString).appendingPathComponent("experiment.yaml"))
        compiled = try? spec?.compile(maxBatch: 1)
    }

    /// The top-level sections `keys` of experiment.yaml, in the file's order.
    func yamlSection(_ keys: [String]) -> String {
        var out: [String] = [], keep = false
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if let first = line.first, first != " ", first != "#", first != "-" {
                keep = keys.contains { line.hasPrefix($0 + ":") }
            }
            if keep { out.append(String(line)) }
        }
        while out.last?.isEmpty == true { out.removeLast() }
        return out.joined(separator: "\n")
    }

    /// Steps per epoch as the trainer counted them.
    var stepsPerEpoch: Int? {
        guard let spec, let images = report.dataset?.trainImages, images > 0 else { return nil }
        return (images + spec.train.batchSize - 1) / spec.train.batchSize
    }
}

/// One step of the report: a heading, a line on what it shows, the YAML of the step and its output.
struct PageSection {
    let title: String
    let intro: String
    /// The experiment's YAML for the step ("" for none).
    let source: String
    let blocks: [Block]
    /// The source above the output rather than beside it (output that needs the page's width).
    var wide = false
}

/// The pages of a run folder.
public struct RunPages {
    public static let fileNames = ["report.html", "report.ipynb"]
    let contents: RunFolderContents
    let header: [Block]
    let sections: [PageSection]

    /// Reads the run folder (report.json must be there) and draws the report.
    public init(folder: String) throws {
        contents = try RunFolderContents(folder: folder)
        let drawn = RunSections(contents)
        header = drawn.header()
        sections = drawn.all()
    }

    /// The title: "mlp — run 20250101-120000".
    var title: String { "\(contents.report.name) — run \(contents.report.runID)" }

    /// report.html
    public var html: String {
        HTMLPage(
            title: title, header: header,
            sections: sections.map { section in
                Charts.Section(section.title, blocks: [.paragraph(section.intro)]
                               + (section.source.isEmpty ? section.blocks
                                  : section.wide ? [.code(section.source)] + section.blocks
                                  : [.sideBySide(source: section.source, output: section.blocks)]))
            },
            footer: [.paragraph("Made by runner from the files of \(contents.folder) (report.json, experiment.yaml, "
                                + "\(ReportData.fileName)); `runner report \(contents.folder)` makes it again.")]
        ).render()
    }

    /// report.ipynb: a Markdown cell per step, then a code cell with its YAML and outputs.
    public var notebook: String {
        var cells: [Notebook.Cell] = [.markdown("# " + title + "\n\n" + markdown(header))]
        for section in sections {
            cells.append(.markdown("## \(section.title)\n\n\(section.intro)"))
            if section.source.isEmpty {
                cells.append(.markdown(markdown(section.blocks)))
            } else {
                cells.append(.code(section.source, outputs: section.blocks.flatMap(\.notebookOutputs)))
            }
        }
        return Notebook(cells: cells, language: "yaml").render()
    }

    /// The file `name` of `fileNames`.
    public func file(named name: String) -> String { name == "report.ipynb" ? notebook : html }

    /// Text blocks as Markdown (facts as a two-column table, headline numbers in bold).
    func markdown(_ blocks: [Block]) -> String {
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        return blocks.map { block -> String in
            switch block {
            case .heading(let text): return "### " + text
            case .paragraph(let text): return text
            case .callout(let text, _): return "> " + text.replacingOccurrences(of: "\n", with: "\n> ")
            case .metrics(let items): return items.map { "**\($0.value)** \($0.label)" }.joined(separator: " · ")
            case .facts(let pairs):
                return "| | |\n|---|---|\n" + pairs.map { "| \(cell($0.name)) | \(cell($0.value)) |" }.joined(separator: "\n")
            case .table(let table): return table.html()
            case .code(let text): return "```\n" + text + "\n```"
            default: return ""
            }
        }.filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    /// Writes report.html and report.ipynb into the folder (atomically); returns their paths.
    @discardableResult
    public func write() throws -> [String] {
        try [("report.html", html), ("report.ipynb", notebook)].map { name, text in
            let path = (contents.folder as NSString).appendingPathComponent(name)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            return path
        }
    }
}
