// `sweep:` — one experiment file, many runs. `grid` gives a list of values for any key path of the
// experiment (as the resolved experiment spells it: `compile.optimizer.learning_rate`,
// `model.layers[1].units`); `seeds` a list of seeds. Every combination is a point: the file with
// those values written in, an experiment of its own, with its own hash.
//
//     sweep:
//       grid:
//         compile.optimizer.learning_rate: [0.001, 0.003]
//       seeds: [1, 2, 3]
//
// Points come in a fixed order: the grid's keys as written, the first varying slowest, then the
// seeds. A value keeps its place in the file, so an error in it (units: -1) points at the sweep.
// `--set key.path=value` (FileLayers.swift) puts values in the same way, with the same key paths.
import Foundation
import NeuralNetwork
import Yams

public struct SweepSpec: Sendable {
    /// One key path and the values it takes.
    public struct Axis: @unchecked Sendable {  // Yams nodes are immutable values
        public let path: String
        let steps: [PathStep]
        let keyMark: Mark?
        let values: [Node]
    }
    public let axes: [Axis]
    /// nil: the file's own seed.
    public let seeds: [UInt64]?
    let seedMarks: [Mark?]

    /// How many runs the sweep makes.
    public var count: Int { axes.reduce(1) { $0 * $1.values.count } * (seeds?.count ?? 1) }

    /// "2 values of compile.optimizer.learning_rate × 3 seeds"
    public var summary: String {
        (axes.map { "\($0.values.count) value\($0.values.count == 1 ? "" : "s") of \($0.path)" }
            + (seeds.map { ["\($0.count) seed\($0.count == 1 ? "" : "s")"] } ?? [])).joined(separator: " × ")
    }
}

/// One value a sweep point was given: the key (short: the last name of its path, unless two keys
/// share it) and the value as written.
public struct SweepAssignment: Sendable, Equatable {
    public let key: String
    public let value: String
    public var isSeed: Bool { key == "seed" }
}

/// A step of a key path: `layers` or `[1]`.
enum PathStep: Equatable, CustomStringConvertible {
    case key(String)
    case index(Int)

    var description: String {
        switch self {
        case .key(let name): name
        case .index(let i): "[\(i)]"
        }
    }

    /// "model.layers[1].units" → model, layers, [1], units; nil when it is not a key path.
    static func parse(_ text: String) -> [PathStep]? {
        var steps: [PathStep] = []
        for segment in text.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(segment)
            let name = rest.prefix { $0 != "[" }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
            steps.append(.key(String(name)))
            rest = rest.dropFirst(name.count)
            while !rest.isEmpty {
                guard rest.first == "[", let close = rest.firstIndex(of: "]"),
                      let index = Int(rest[rest.index(after: rest.startIndex)..<close]), index >= 0 else { return nil }
                steps.append(.index(index))
                rest = rest[rest.index(after: close)...]
            }
        }
        return steps.isEmpty ? nil : steps
    }

    static func text(_ steps: some Collection<PathStep>) -> String {
        steps.reduce(into: "") { out, step in
            if case .key = step, !out.isEmpty { out += "." }
            out += step.description
        }
    }
}

extension SweepSpec: Decodable {
    enum CodingKeys: String, CodingKey { case grid, seeds }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var axes: [Axis] = []
        if c.contains(.grid), let grid = try c.superDecoder(forKey: .grid) as? NodeDecoder {
            for (key, value) in try grid.mapping() {
                let path = key.string ?? ""
                guard let steps = PathStep.parse(path) else {
                    throw grid.source.error(at: key.mark, path: grid.codingPath, "'\(path)' is not a key path",
                                            hint: "write keys as the resolved experiment names them, e.g. "
                                                + "compile.optimizer.learning_rate or model.layers[1].units")
                }
                guard case .sequence(let values) = value, !values.isEmpty else {
                    throw grid.source.error(at: value.mark ?? key.mark, path: grid.codingPath + [NameKey(path)],
                                            "expected a non-empty list of values for '\(path)', found \(describe(value))",
                                            hint: "e.g. `\(path): [0.001, 0.003]`")
                }
                if steps == [.key("seed")] && c.contains(.seeds) {
                    throw grid.source.error(at: key.mark, path: grid.codingPath, "the seed is swept twice: by grid.seed and by seeds",
                                            hint: "keep `seeds:` (its runs are averaged in comparisons)")
                }
                axes.append(Axis(path: path, steps: steps, keyMark: key.mark, values: Array(values)))
            }
        }
        if c.contains(.seeds), let list = try c.superDecoder(forKey: .seeds) as? NodeDecoder {
            guard case .sequence(let nodes) = list.node, !nodes.isEmpty else {
                throw list.mismatch(expected: "a non-empty list of seeds")
            }
            var seeds: [UInt64] = []
            for (i, node) in nodes.enumerated() {
                let seed = try NodeDecoder.decode(UInt64.self, node: node, codingPath: list.codingPath + [IndexKey(i)],
                                                  source: list.source)
                if seeds.contains(seed) {
                    throw list.source.error(at: node.mark, path: list.codingPath + [IndexKey(i)], "seed \(seed) is listed twice")
                }
                seeds.append(seed)
            }
            self.seeds = seeds
            seedMarks = nodes.map(\.mark)
        } else {
            seeds = nil
            seedMarks = []
        }
        self.axes = axes
        // A misspelt `seeds:` is the error to show, not the empty sweep it leaves.
        try (decoder as? NodeDecoder)?.checkUnknownKeys()
        if axes.isEmpty && seeds == nil {
            throw ConfigError(codingPath: c.codingPath, message: "the sweep varies nothing",
                              hint: "give `grid:` (key path: [values…]) and/or `seeds: [1, 2, 3]`")
        }
    }
}

/// A value to put at a key path of the experiment: a sweep's grid value or seed, or a `--set`.
struct KeyAssignment {
    /// The key path as written: "compile.optimizer.learning_rate".
    let path: String
    let steps: [PathStep]
    /// The value, at its place in the file or the argument (errors in it point there).
    let value: Node
    /// Where errors about the path itself point, and the key path they name.
    let keyMark: Mark?
    let errorPath: [any CodingKey]
}

extension ExperimentSpec {
    /// The experiments this file stands for: itself, or every point of its sweep, in order. Each
    /// point is checked as a file would be (errors point at the sweep's values); its model is not
    /// built here.
    public func points() throws -> [ExperimentSpec] {
        guard let sweep else { return [self] }
        let gridPath: [any CodingKey] = [Keys.sweep, SweepSpec.CodingKeys.grid]
        // Key paths are those of the resolved experiment, where every key is written out.
        let resolvedTree = try resolved(try compile(maxBatch: 1))
        try check(sweep.axes.map { KeyAssignment(path: $0.path, steps: $0.steps, value: $0.values[0],
                                                 keyMark: $0.keyMark, errorPath: gridPath) },
                  against: resolvedTree)
        let shortNames = sweep.axes.map { axis -> String in
            guard case .key(let last)? = axis.steps.last(where: { if case .key = $0 { true } else { false } }) else { return axis.path }
            let shared = sweep.axes.filter { $0.steps.last { if case .key = $0 { true } else { false } } == .key(last) }.count > 1
            return shared ? axis.path : last
        }

        guard case .mapping(let top) = root else { return [self] }
        let base = Node.mapping(.init(top.filter { $0.key.string != Keys.sweep.rawValue }.map { ($0.key, $0.value) },
                                      top.tag, top.style, top.mark))
        var combinations: [[Int]] = [[]]
        for axis in sweep.axes {
            combinations = combinations.flatMap { prefix in axis.values.indices.map { prefix + [$0] } }
        }
        let seeds: [(UInt64, Mark?)?] = sweep.seeds.map { Array(zip($0, sweep.seedMarks)).map { $0 } } ?? [nil]
        var points: [ExperimentSpec] = []
        for combination in combinations {
            for seed in seeds {
                var tree = base
                var assignments: [SweepAssignment] = []
                for (a, choice) in combination.enumerated() {
                    let axis = sweep.axes[a], value = axis.values[choice]
                    tree = try replacing(KeyAssignment(path: axis.path, steps: axis.steps, value: value,
                                                       keyMark: axis.keyMark, errorPath: gridPath),
                                         in: tree, resolved: resolvedTree)
                    assignments.append(SweepAssignment(key: shortNames[a], value: inlineText(value)))
                }
                if let (seed, mark) = seed {
                    let value = Node.scalar(.init(String(seed), Tag(.int), .plain, mark))
                    tree = try replacing(KeyAssignment(path: "seed", steps: [.key("seed")], value: value,
                                                       keyMark: nil, errorPath: gridPath),
                                         in: tree, resolved: resolvedTree)
                    assignments.append(SweepAssignment(key: "seed", value: String(seed)))
                }
                var point = try ExperimentSpec.decode(tree, source: source, defaultName: defaultName)
                point.assignments = assignments
                points.append(point)
            }
        }
        return points
    }

    /// This experiment with `assignments` (`--set`) put in, checked as a file would be.
    ///
    /// The key paths come from the resolved experiment, which reads only the layers'
    /// configuration: the model is built for one sample, the cheapest (for the largest batch, as
    /// the run builds it, every buffer was sized for the evaluation batch — 0.13 s more to validate
    /// cnn-best.yaml). The run's own build checks the batch's memory.
    func applying(_ assignments: [KeyAssignment]) throws -> ExperimentSpec {
        guard !assignments.isEmpty else { return self }
        let resolvedTree = try resolved(try compile(maxBatch: 1))
        try check(assignments, against: resolvedTree)
        var tree = root
        for assignment in assignments { tree = try replacing(assignment, in: tree, resolved: resolvedTree) }
        return try ExperimentSpec.decode(tree, source: source, defaultName: defaultName)
    }

    /// Every path must name a key of the resolved experiment; an unknown one gets the nearest.
    private func check(_ assignments: [KeyAssignment], against resolvedTree: Node) throws {
        let known = allPaths(resolvedTree)
        for assignment in assignments where node(at: assignment.steps[...], in: resolvedTree) == nil {
            let near = Spelling.nearest(to: assignment.path, among: known)
            throw source.error(at: assignment.keyMark, path: assignment.errorPath, "unknown key path '\(assignment.path)'",
                               hint: (near.map { "did you mean '\($0)'? " } ?? "")
                                   + "key paths are those of the resolved experiment (results/<name>/<run>/experiment.yaml)")
        }
    }

    /// `node` (the file's tree below `steps[..<depth]`) with the value at the assignment's path
    /// replaced, keys that the file leaves to their defaults added, and short forms (`optimizer:
    /// adam`) written out as mappings where the path goes into them.
    private func replacing(_ assignment: KeyAssignment, depth: Int = 0, in node: Node, resolved: Node) throws -> Node {
        let steps = assignment.steps, value = assignment.value
        guard depth < steps.count else { return value }
        let here = PathStep.text(steps[..<depth])
        func fail(_ why: String) -> ExperimentError {
            source.error(at: assignment.keyMark, path: assignment.errorPath, "cannot apply '\(assignment.path)': \(why)",
                         hint: "write the part of the experiment it goes into out in full in the file")
        }
        func deeper(_ child: Node) throws -> Node {
            try replacing(assignment, depth: depth + 1, in: child, resolved: resolved)
        }
        switch (steps[depth], node) {
        case (.key(let name), .mapping(let m)):
            var pairs = m.map { ($0.key, $0.value) }
            if let i = pairs.firstIndex(where: { $0.0.string == name }) {
                pairs[i].1 = try deeper(pairs[i].1)
            } else {
                pairs.append((Node.scalar(.init(name, Tag(.str), .plain, value.mark)),
                              try deeper(.mapping(.init([], Tag(.map), .block, value.mark)))))
            }
            return .mapping(.init(pairs, m.tag, m.style, m.mark))
        case (.key, .scalar(let s)):
            if Node.scalar(s).tag.kind == .null {
                // `train:` with nothing under it is an empty section.
                return try replacing(assignment, depth: depth, in: .mapping(.init([], Tag(.map), .block, s.mark)),
                                     resolved: resolved)
            }
            // A short form, `optimizer: adam` for `{type: adam}`.
            if case .mapping(let full)? = self.node(at: steps[..<depth], in: resolved),
               full.contains(where: { $0.key.string == "type" }) {
                let typed = Node.mapping(.init([(Node("type"), node)], Tag(.map), .block, s.mark))
                return try replacing(assignment, depth: depth, in: typed, resolved: resolved)
            }
            throw fail("'\(here)' is written as the single value '\(s.string)'")
        case (.index(let i), .sequence(var list)):
            guard i < list.count else { throw fail("'\(here)' has only \(list.count) entries in the file") }
            list[i] = try deeper(list[i])
            return .sequence(list)
        default:
            throw fail("'\(here.isEmpty ? "the file" : here)' is \(describe(node)) in the file")
        }
    }

    /// The node at `steps` in a resolved tree, if there is one.
    private func node(at steps: ArraySlice<PathStep>, in tree: Node) -> Node? {
        var node = tree
        for step in steps {
            switch (step, node) {
            case (.key(let name), .mapping(let m)):
                guard let next = m.first(where: { $0.key.string == name })?.value else { return nil }
                node = next
            case (.index(let i), .sequence(let s)):
                guard i < s.count else { return nil }
                node = s[i]
            default:
                return nil
            }
        }
        return node
    }
}

/// Every key path of a resolved tree, inner ones included ("compile.optimizer" and
/// "compile.optimizer.learning_rate").
func allPaths(_ tree: Node, prefix: String = "") -> [String] {
    switch tree {
    case .mapping(let m):
        return m.flatMap { pair -> [String] in
            let path = prefix.isEmpty ? (pair.key.string ?? "") : prefix + "." + (pair.key.string ?? "")
            return [path] + allPaths(pair.value, prefix: path)
        }
    case .sequence(let s):
        return s.enumerated().flatMap { i, item in [prefix + "[\(i)]"] + allPaths(item, prefix: prefix + "[\(i)]") }
    default:
        return []
    }
}

/// A value on one line: scalars as written, lists and mappings in flow style ("[28, 28, 1]",
/// "{type: sgd, momentum: 0.9}").
func inlineText(_ node: Node) -> String {
    switch node {
    case .scalar(let s): return s.string
    case .sequence(let s): return "[" + s.map(inlineText).joined(separator: ", ") + "]"
    case .mapping(let m): return "{" + m.map { "\($0.key.string ?? ""): \(inlineText($0.value))" }.joined(separator: ", ") + "}"
    case .alias: return "*"
    }
}

extension ExperimentSpec {
    /// "mlp[learning_rate=0.001, seed=2]" for a sweep point, the name otherwise.
    public var label: String { Self.label(name, assignments) }

    /// The label without the seed: what the point's runs over seeds are grouped under.
    public var groupLabel: String { Self.label(name, assignments.filter { !$0.isSeed }) }

    static func label(_ name: String, _ assignments: [SweepAssignment]) -> String {
        assignments.isEmpty ? name : name + "[" + assignments.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "]"
    }

    /// The error for running a sweep file as a single experiment.
    func sweepNeedsCompare() -> ExperimentError {
        let key = root.mapping?.first { $0.key.string == Keys.sweep.rawValue }?.key
        return source.error(at: key?.mark, path: [], "this file is a sweep of \(sweep?.count ?? 0) runs "
                            + "(\(sweep?.summary ?? "")), not a single experiment",
                            hint: "run it with `runner compare \(source.path)`; `runner validate` checks every point")
    }
}
