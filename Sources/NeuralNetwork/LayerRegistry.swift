// The layer types an experiment file can name, each with its Keras default name prefix.
import Kernels

public enum Layers {
    /// Builds a layer from its parameters (decoded from `decoder`), the shape it receives and its
    /// name. Throws ConfigError for bad parameters and ModelError for shapes that cannot work.
    public typealias Constructor = @Sendable (_ decoder: Decoder, _ input: Shape, _ name: String) throws -> any Layer

    public static let registry: Registry<Constructor> = {
        var r = Registry<Constructor>(kind: "layer type")
        r.register("dense") { try Dense(.init(from: $0), inputShape: $1, name: $2) }
        r.register("flatten") { _ = try Flatten.Config(from: $0); return Flatten(inputShape: $1, name: $2) }
        r.register("activation") { ActivationLayer(try .init(from: $0), inputShape: $1, name: $2) }
        r.register("dropout") { Dropout(try .init(from: $0), inputShape: $1, name: $2) }
        r.register("conv2d") { try Conv2D(.init(from: $0), inputShape: $1, name: $2) }
        r.register("max_pooling2d") { try Pooling2D(.max, .init(from: $0), inputShape: $1, name: $2) }
        r.register("average_pooling2d") { try Pooling2D(.average, .init(from: $0), inputShape: $1, name: $2) }
        r.register("global_average_pooling2d") {
            _ = try GlobalAveragePooling2D.Config(from: $0)
            return try GlobalAveragePooling2D(inputShape: $1, name: $2)
        }
        r.register("reshape") { try Reshape(.init(from: $0), inputShape: $1, name: $2) }
        r.register("batch_normalization") { try BatchNormalization(.init(from: $0), inputShape: $1, name: $2) }
        return r
    }()
}
