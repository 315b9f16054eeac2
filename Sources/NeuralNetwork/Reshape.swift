// Reshape: (N, d1, d2, …) → (N, t1, t2, …) with the same number of values per sample. The memory
// is already in that order (row-major, batch first), so like Flatten the output is the input.
import Kernels

public final class Reshape: Layer {
    /// `- type: reshape` parameters.
    public struct Config: Codable, Sendable {
        /// One sample's new shape, e.g. [28, 28, 1]; one size may be -1, inferred from the input.
        /// Required.
        public var targetShape: [Int]

        enum CodingKeys: String, CodingKey { case targetShape = "target_shape" }

        public init(targetShape: [Int]) { self.targetShape = targetShape }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            targetShape = try c.decode(.targetShape, expected: "a non-empty list of positive sizes, at most one of "
                                       + "them -1") { (t: [Int]) in
                !t.isEmpty && t.allSatisfy { $0 > 0 || $0 == -1 } && t.filter { $0 == -1 }.count <= 1
            }
        }
    }

    public let kind = "Reshape"
    public var name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public let config: Config
    public var configuration: any Encodable & Sendable { config }
    public var aliasesInput: Bool { true }

    public init(_ config: Config, inputShape: Shape, name: String = "reshape") throws {
        let target = config.targetShape
        let count = inputShape.count
        var known = 1
        for size in target where size != -1 {
            let (product, overflow) = known.multipliedReportingOverflow(by: size)
            known = overflow ? Int.max : product
        }
        var dims = target
        if let unknown = target.firstIndex(of: -1) {
            guard count % known == 0 else {
                throw ModelError(layerIndex: nil, message:
                    "reshape cannot infer the -1 in target_shape \(target): the input \(inputShape) holds "
                    + "\(Format.grouped(count)) values, not a multiple of \(Format.grouped(known))",
                    hint: "the sizes of target_shape must multiply to \(Format.grouped(count))")
            }
            dims[unknown] = count / known
        } else if known != count {
            throw ModelError(layerIndex: nil, message:
                "reshape: target_shape \(target) holds \(known == Int.max ? "too many" : Format.grouped(known)) "
                + "values, but the input \(inputShape) holds \(Format.grouped(count))",
                hint: "the sizes of target_shape must multiply to \(Format.grouped(count)) (or use -1 for one "
                    + "size to infer it)")
        }
        self.config = config
        self.name = name
        self.inputShape = inputShape
        outputShape = Shape(dims)
    }

    public func forward(x: FloatView, y: FloatView, batch: Int, context: PassContext) {}
    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch: Int,
                         context: PassContext) {}
}
