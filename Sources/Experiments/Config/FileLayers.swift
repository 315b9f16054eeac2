// An experiment in layers: the file, the files it `extends:` (a chain, each relative to the file
// that names it), and `--set key.path=value` arguments on top. Each layer's text is a part of the
// experiment's SourceText, so an error points at the file and line (or the argument and column)
// where the bad value was written.
//
//     extends: mlp.yaml          # every key of mlp.yaml, then these over it:
//     model:
//       layers: [...]            # lists replace the base's; mappings merge key by key
//
// `name:` is not inherited: a file without one is named after itself, so a variant never writes
// into its base's results folder. The resolved experiment has no `extends:`.
import Foundation
import Yams

extension ExperimentSpec {
    /// `root` (the tree of the file at `path`) merged over the trees of the files its `extends:`
    /// names, down the chain; their texts are added to `source`. `chain` holds the canonical paths
    /// of the files above, so that a cycle is refused.
    static func resolvingExtends(_ root: Node, path: String, source: inout SourceText, chain: [String]) throws -> Node {
        guard case .mapping(let mapping) = root,
              let (key, value) = mapping.first(where: { $0.key.string == Keys.extends.rawValue }) else { return root }
        let own = Node.mapping(.init(mapping.filter { $0.key.string != Keys.extends.rawValue }.map { ($0.key, $0.value) },
                                     mapping.tag, mapping.style, mapping.mark))
        let at: [any CodingKey] = [Keys.extends]
        guard case .scalar(let scalar) = value, Node.scalar(scalar).tag.kind != .null, !scalar.string.isEmpty else {
            throw source.error(at: value.mark ?? key.mark, path: at,
                               "expected the path of the experiment file this one extends, found \(describe(value))",
                               hint: "e.g. `extends: mlp.yaml` (relative to this file)")
        }
        let written = scalar.string
        let basePath = written.hasPrefix("/") ? written
            : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(written)
        let canonical = canonicalPath(basePath)
        if let first = chain.firstIndex(of: canonical) {
            let cycle = (chain[first...] + [canonical]).map { ($0 as NSString).lastPathComponent }
            throw source.error(at: value.mark, path: at, "extends cycle: " + cycle.joined(separator: " → "),
                               hint: "a file cannot extend itself, directly or through its bases")
        }
        let text = try readText(basePath, what: "base experiment", at: source.location(value.mark),
                                sourceLine: source.line(value.mark))
        source = source.adding(path: basePath, text: text)
        let base = try resolvingExtends(try topMapping(text, source: source), path: basePath, source: &source,
                                        chain: chain + [canonical])
        guard case .mapping(let baseMapping) = base else { return own }
        let inherited = Node.mapping(.init(baseMapping.filter { $0.key.string != Keys.name.rawValue }.map { ($0.key, $0.value) },
                                           baseMapping.tag, baseMapping.style, baseMapping.mark))
        return merged(inherited, own)
    }

    /// `top` over `base`: mappings merge key by key, anything else in `top` (a list, a scalar,
    /// `null`) replaces what `base` has there.
    static func merged(_ base: Node, _ top: Node) -> Node {
        guard case .mapping(let b) = base, case .mapping(let t) = top else { return top }
        var pairs = b.map { ($0.key, $0.value) }
        for (key, value) in t {
            if let i = pairs.firstIndex(where: { $0.0.string == key.string }) {
                pairs[i] = (key, merged(pairs[i].1, value))
            } else {
                pairs.append((key, value))
            }
        }
        return .mapping(.init(pairs, t.tag, t.style, t.mark))
    }

    /// One `--set key.path=value` argument as an assignment; its text becomes a part of `source`
    /// (errors in it show the argument with a caret). The value is YAML: a scalar (`3e-4`, `true`,
    /// `relu`) or a flow list or mapping (`[64, 64]`, `{type: sgd, momentum: 0.9}`).
    static func setting(_ argument: String, source: inout SourceText) throws -> KeyAssignment {
        source = source.adding(path: "--set", text: argument)
        func fail(_ message: String, column: Int = 1) -> ExperimentError {
            ExperimentError(location: SourceLocation(file: "--set", line: 1, column: column), message: message,
                            hint: "write --set key.path=value, e.g. --set compile.optimizer.learning_rate=3e-4 "
                                + "or --set model.layers[1].units=256", sourceLine: argument)
        }
        guard let equals = argument.firstIndex(of: "=") else { throw fail("'\(argument)' has no '=' between key path and value") }
        let key = String(argument[..<equals]), text = String(argument[argument.index(after: equals)...])
        guard let steps = PathStep.parse(key) else { throw fail("'\(key)' is not a key path") }
        let keyMark = try source.composeLast(key)?.mark
        let value = try source.composeLast(text, indent: key.unicodeScalars.count + 1)
            ?? .scalar(.init("null", Tag(.null), .plain, keyMark))
        return KeyAssignment(path: key, steps: steps, value: value, keyMark: keyMark, errorPath: [])
    }
}

/// The path with `.`/`..` and symlinks resolved, to recognise a file reached two ways.
func canonicalPath(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
}
