// Shape errors of convolutional models, each pinned to the layer's line and column. The files are
// variations of `convBase`; its line numbers are in the comment beside it.
import Experiments
import Testing

///  1 model:                          8     - type: flatten
///  2   input_shape: [28, 28, 1]      9     - type: dense
///  3   layers:                      10       units: 10
///  4     - type: conv2d             11       activation: softmax
///  5       filters: 8               12 compile:
///  6       kernel_size: 3           13   optimizer: adam
///  7     - type: max_pooling2d      14   loss: categorical_crossentropy
let convBase = """
    model:
      input_shape: [28, 28, 1]
      layers:
        - type: conv2d
          filters: 8
          kernel_size: 3
        - type: max_pooling2d
        - type: flatten
        - type: dense
          units: 10
          activation: softmax
    compile:
      optimizer: adam
      loss: categorical_crossentropy

    """

func convEdit(_ old: String, _ new: String) -> String {
    precondition(convBase.contains(old), "convBase has no \(old)")
    return convBase.replacingOccurrences(of: old, with: new)
}

let convErrors: [BadFile] = [
    BadFile(label: "conv2d after flatten", yaml: convEdit("    - type: conv2d\n", "    - type: flatten\n    - type: conv2d\n"),
            line: 5, column: 13, message: ["layer 'conv2d'", "expects an image input", "(None, 784)"],
            hint: ["remove the flatten", "reshape"], keyPath: "model.layers[1]", atCompile: true),
    BadFile(label: "kernel larger than its input", yaml: convEdit("kernel_size: 3", "kernel_size: 30"),
            line: 4, column: 13, message: ["layer 'conv2d'", "30×30 kernel does not fit", "(None, 28, 28, 1)",
                                           "negative output size"],
            hint: ["padding: same"], keyPath: "model.layers[0]", atCompile: true),
    BadFile(label: "dense fed an image without flatten", yaml: convEdit("    - type: flatten\n", ""),
            line: 8, column: 13, message: ["layer 'dense'", "expects a flat input", "(None, 13, 13, 8)"],
            hint: ["flatten"], keyPath: "model.layers[2]", atCompile: true),
    BadFile(label: "conv2d on a 2-D input_shape", yaml: convEdit("[28, 28, 1]", "[28, 28]"),
            line: 4, column: 13, message: ["layer 'conv2d'", "(None, 28, 28)"],
            hint: ["input_shape: [28, 28, 1]"], atCompile: true),
    BadFile(label: "pool larger than its input (negative output size)",
            yaml: convEdit("    - type: max_pooling2d\n", "    - type: max_pooling2d\n      pool_size: 40\n"),
            line: 7, column: 13, message: ["layer 'max_pooling2d'", "40×40 pool", "negative output size"],
            hint: ["smaller pool_size"], atCompile: true),
    BadFile(label: "reshape to the wrong number of values",
            yaml: convEdit("    - type: max_pooling2d\n",
                           "    - type: reshape\n      target_shape: [27, 26, 8]\n    - type: max_pooling2d\n"),
            line: 7, column: 13, message: ["layer 'reshape'", "5,616 values", "5,408"], hint: ["-1"], atCompile: true),
    BadFile(label: "stride 0", yaml: convEdit("kernel_size: 3", "kernel_size: 3\n      strides: 0"),
            line: 7, column: 16, message: ["'strides' must be positive", "found 0"],
            keyPath: "model.layers[0].strides", atCompile: true),
    BadFile(label: "padding typo", yaml: convEdit("kernel_size: 3", "kernel_size: 3\n      padding: sam"),
            line: 7, column: 16, message: ["padding", "sam"], hint: ["did you mean 'same'"], atCompile: true),
]

@Suite("Convolutional model errors")
struct ConvErrorTests {
    @Test("shape and parameter errors of convolutional models", arguments: convErrors)
    func conv(_ c: BadFile) { ErrorTests().check(c) }

    @Test("the base file itself builds")
    func baseBuilds() throws {
        let spec = try ExperimentSpec.parse(convBase, path: "base.yaml")
        #expect(try spec.compile(maxBatch: 8).model.parameterCount == 8 * 9 + 8 + 13 * 13 * 8 * 10 + 10)
    }
}
