// The resolved experiment: the file as it ran, every default filled in and every command-line
// override applied. It is itself a valid experiment file (`runner results/…/experiment.yaml`
// re-runs it), and its SHA-256 identifies the experiment.
import Crypto
import Datasets
import Foundation
import NeuralNetwork
import Training
import Yams

extension ExperimentSpec {
    /// The resolved experiment as a YAML tree, keys in the file's section order.
    public func resolved(_ compiled: CompiledModel) throws -> Node {
        var top: [(String, Node)] = [("name", Node(name))]
        if let description { top.append(("description", Node(description))) }
        top.append(("seed", Node(String(seed), Tag(.int))))

        var dataPairs: [(String, Node)] = [("dataset", Node(data.dataset))]
        if let directory = data.directory { dataPairs.append(("directory", Node(directory))) }
        if let mirrors = data.mirrors { dataPairs.append(("mirrors", Node(mirrors.map { Node($0) }))) }
        top.append(("data", mapping(dataPairs)))
        top.append(("preprocess", try encoded(preprocess)))

        var layers: [Node] = []
        for (layer, type) in zip(compiled.model.layers, compiled.layerTypes) {
            var node = try typed(type, name: layer.name, layer.configuration)
            // The per-tensor keys the model builder reads (a RegularizedLayer's Config writes its own
            // kernel_regularizer): *_regularizer and *_lr_multiplier of the kernel and the bias.
            for entry in compiled.model.parameterTable where entry.layer == layer.name && entry.trainable
                && ["kernel", "bias"].contains(entry.name) {
                guard case .mapping(var m) = node else { break }
                if !(entry.name == "kernel" && layer is any RegularizedLayer) {
                    let penalty = compiled.penalties.first { $0.layer == layer.name && $0.parameter == entry.name }
                    m[Node(entry.name + "_regularizer")] = try penalty.map { try encoded($0.regularizer) }
                        ?? Node("null", Tag(.null))
                }
                m[Node(entry.name + "_lr_multiplier")] = Node(floatText(entry.learningRateMultiplier), Tag(.float))
                node = .mapping(m)
            }
            layers.append(node)
        }
        top.append(("model", mapping([
            ("name", Node(compiled.model.name)),
            ("input_shape", Node(compiled.model.inputShape.dims.map { Node(String($0), Tag(.int)) }, Tag(.seq), .flow)),
            ("layers", Node(layers)),
        ])))
        top.append(("compile", mapping([
            ("optimizer", try typed(compiled.optimizer.name, name: nil, compiled.optimizer.configuration)),
            ("loss", try typed(compiled.loss.name, name: nil, compiled.loss.configuration)),
            ("metrics", Node(compile.metrics.map { Node($0) }, Tag(.seq), .flow)),
        ])))
        top.append(("train", try encoded(train)))
        var evaluation = evaluate
        evaluation.batchSize = evaluate.batchSize ?? train.batchSize
        top.append(("evaluate", try encoded(evaluation)))
        if let published { top.append((Keys.published.rawValue, published.node)) }
        if !expect.isEmpty { top.append((Keys.expect.rawValue, Expectation.node(expect))) }
        return mapping(top)
    }

    /// The resolved experiment as YAML text, and its SHA-256 (the experiment's identity). The
    /// hash is that of the text without `published:` and `expect:` (the last sections) and
    /// `train.tensorboard`: the published figure, the conditions on the results and logging do not
    /// change the run, so changing them neither starts the run afresh nor stops a resume.
    public func resolvedText(_ compiled: CompiledModel) throws -> (yaml: String, sha256: String) {
        let tree = try resolved(compiled)
        let yaml = try Yams.serialize(node: tree, allowUnicode: true, sortKeys: false)
        var identity = yaml
        let results = [Keys.published.rawValue, Keys.expect.rawValue]
        if case .mapping(let m) = tree {
            let trained = Node(m.filter { !results.contains($0.key.string ?? "") }.map { pair in
                guard pair.key.string == Keys.train.rawValue, case .mapping(let train) = pair.value else { return (pair.key, pair.value) }
                return (pair.key, Node(train.filter { $0.key.string != TrainSpec.CodingKeys.tensorboard.rawValue }
                                           .map { ($0.key, $0.value) }, train.tag, train.style))
            }, Tag(.map))
            identity = try Yams.serialize(node: trained, allowUnicode: true, sortKeys: false)
        }
        return (yaml, experimentHash(identity))
    }

    /// The hash that groups the runs of a sweep: the experiment's, with the seed left out.
    public func groupHash(_ compiled: CompiledModel) throws -> String {
        var unseeded = self
        unseeded.seed = 0
        unseeded.expect = []
        unseeded.published = nil
        return try unseeded.resolvedText(compiled).sha256
    }
}

func experimentHash(_ text: String) -> String {
    Checksum.hex(SHA256.hash(data: Data(text.utf8)))
}

extension ExperimentSpec {
}

private func mapping(_ pairs: [(String, Node)]) -> Node {
    Node(pairs.map { (Node($0.0), $0.1) }, Tag(.map))
}

/// An Encodable value as a YAML node, keys in encoding order, numbers written the way people
/// write them (Yams would write the Float 0.001 as 1.00000004749745e-3).
func encoded(_ value: some Encodable) throws -> Node {
    let text = try YAMLEncoder().encode(value)
    return tidyNumbers(try Yams.compose(yaml: text) ?? mapping([]))
}

/// Rewrites float scalars as their shortest Float text ("0.001", "255.0", "1.0e-07": always with
/// a dot, which YAML 1.1 needs to read them back as floats). Parameters are Floats, so nothing
/// is lost.
private func tidyNumbers(_ node: Node) -> Node {
    switch node {
    case .mapping(let m):
        return Node(m.map { ($0.key, tidyNumbers($0.value)) }, m.tag, m.style)
    case .sequence(let s):
        return Node(s.map(tidyNumbers), s.tag, s.style)
    case .scalar where node.tag.kind == .float:
        guard let value = node.float, value.isFinite else { return node }
        return Node(floatText(Float(value)), Tag(.float))
    default:
        return node
    }
}

func floatText(_ x: Float) -> String {
    var text = "\(x)"
    if !text.contains(".") {
        if let e = text.firstIndex(of: "e") { text.insert(contentsOf: ".0", at: e) } else { text += ".0" }
    }
    return text
}

/// `type: …`, `name: …`, then the parameters.
private func typed(_ type: String, name: String?, _ configuration: some Encodable) throws -> Node {
    var pairs: [(String, Node)] = [("type", Node(type))]
    if let name { pairs.append(("name", Node(name))) }
    if case .mapping(let m) = try encoded(configuration) {
        for (k, v) in m { pairs.append((k.string ?? "", v)) }
    }
    return mapping(pairs)
}
