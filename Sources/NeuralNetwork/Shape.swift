// The shape of one sample (the batch dimension is never part of a Shape). Channels-last, like
// Keras: an MNIST image is [28, 28] or [28, 28, 1]; a dense layer's output is [units].

/// Dimensions of one sample, outermost first.
public struct Shape: Equatable, Hashable, Sendable, CustomStringConvertible, Codable {
    public let dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }

    /// Elements in one sample.
    public var count: Int { dims.reduce(1, *) }
    public var rank: Int { dims.count }

    /// Keras's notation, with the batch as None: "(None, 28, 28, 1)".
    public var description: String {
        "(None, " + dims.map(String.init).joined(separator: ", ") + (dims.count == 1 ? ")" : ")")
    }

    public init(from decoder: Decoder) throws { dims = try [Int](from: decoder) }
    public func encode(to encoder: Encoder) throws { try dims.encode(to: encoder) }
}
