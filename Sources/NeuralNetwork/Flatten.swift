// Flatten: (N, d1, d2, …) → (N, d1·d2·…). The memory is already in that order, so the output is
// the input itself: no copy forward, none backward.
import Kernels

public final class Flatten: Layer {
    /// `- type: flatten` takes no parameters.
    public struct Config: Codable, Sendable {
        public init() {}
        public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: NoKeys.self) }
        enum NoKeys: CodingKey {}
    }

    public let kind = "Flatten"
    public var name: String
    public let inputShape: Shape
    public let outputShape: Shape
    public var configuration: any Encodable & Sendable { Config() }
    public var aliasesInput: Bool { true }

    public init(inputShape: Shape, name: String = "flatten") {
        self.name = name
        self.inputShape = inputShape
        outputShape = Shape([inputShape.count])
    }

    public func forward(x: FloatView, y: FloatView, batch: Int, context: PassContext) {}
    public func backward(x: FloatView, y: FloatView, dy: FloatView, dx: FloatView?, batch: Int,
                         context: PassContext) {}
}
