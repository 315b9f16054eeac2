// What convolution and pooling layers share: (height, width) parameters written as one integer or
// a pair, the padding rule, and the check that the input is an image (None, H, W, C).
import Kernels

/// A (height, width) pair, written `3` (both) or `[3, 5]`, as Keras accepts for `kernel_size`,
/// `strides` and `pool_size`. Written back as `[height, width]`.
public struct HeightWidth: Codable, Sendable, Equatable, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    public init(_ both: Int) { self.init(both, both) }

    public init(from decoder: Decoder) throws {
        let single = try? decoder.singleValueContainer()
        if let both = try? single?.decode(Int.self) {
            self.init(both)
            return
        }
        guard var list = try? decoder.unkeyedContainer(), list.count == 2 else {
            let found = (try? single?.decode(String.self)).map { ", found \($0)" } ?? ""
            throw ConfigError(codingPath: decoder.codingPath, message:
                "'\(decoder.codingPath.last?.stringValue ?? "value")' must be an integer or a list of two "
                + "integers [height, width]\(found)")
        }
        let height = try list.decode(Int.self)
        self.init(height, try list.decode(Int.self))
    }

    public func encode(to encoder: Encoder) throws { try [height, width].encode(to: encoder) }

    public var description: String { height == width ? "\(height)" : "[\(height), \(width)]" }

    /// Both sizes in 1...limit.
    func isPositive(upTo limit: Int) -> Bool { (1...limit).contains(height) && (1...limit).contains(width) }
}

/// Where windows may go (Keras's `padding`).
public enum Padding: String, CaseIterable, Codable, Sendable {
    /// Only windows that fit inside the image: output = ⌊(input − window)/stride⌋ + 1.
    case valid
    /// Windows around every stride-th element, padded as TensorFlow pads: output = ⌈input/stride⌉.
    case same
}

/// The largest kernel, pool or stride size accepted (keeps every size product far from overflow).
let maximumWindow = 1 << 16

/// The window geometry for `layer` (its YAML type, for messages) over `input`, or a ModelError
/// when the input is not an image (None, H, W, C) or a `valid` window does not fit.
func imageWindow(_ layer: String, input: Shape, window: HeightWidth, strides: HeightWidth, padding: Padding,
                 what: String) throws -> Window2D {
    guard input.rank == 3 else {
        let hint: String
        if input.rank == 2 {
            let target = "[\(input.dims[0]), \(input.dims[1]), 1]"
            hint = "use input_shape: \(target) or add `- type: reshape` with `target_shape: \(target)`"
        } else {
            // A flat input of a square image's size, e.g. 784 → [28, 28, 1].
            let side = Int(Double(input.count).squareRoot().rounded())
            let target = side * side == input.count ? "[\(side), \(side), 1]" : "[height, width, channels]"
            hint = "remove the flatten (or dense) before this layer, or add `- type: reshape` with "
                + "`target_shape: \(target)`"
        }
        throw ModelError(layerIndex: nil, message:
            "\(layer) expects an image input (None, height, width, channels), got \(input)", hint: hint)
    }
    let g = Window2D(height: input.dims[0], width: input.dims[1], channels: input.dims[2],
                     kernel: (window.height, window.width), stride: (strides.height, strides.width),
                     same: padding == .same)
    guard g.outHeight > 0 && g.outWidth > 0 else {
        throw ModelError(layerIndex: nil, message:
            "\(layer): a \(window.height)×\(window.width) \(what) does not fit in the input \(input) with "
            + "padding valid (negative output size \((g.outHeight, g.outWidth)))",
            hint: "use `padding: same`, a smaller \(what == "kernel" ? "kernel_size" : "pool_size"), "
                + "or fewer downsampling layers before this one")
    }
    return g
}
