// The ONNX messages a model export writes (onnx/onnx.proto3), encoded with ProtobufWriter:
//
//     ModelProto         ir_version 1, producer_name 2, producer_version 3, doc_string 6, graph 7,
//                        opset_import 8 {domain 1, version 2}, metadata_props 14 {key 1, value 2}
//     GraphProto         node 1, name 2, initializer 5, doc_string 10, input 11, output 12
//     NodeProto          input 1, output 2, name 3, op_type 4, attribute 5
//     AttributeProto     name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7)
//     TensorProto        dims 1, data_type 2 (FLOAT 1, INT64 7), name 8, raw_data 9 (little-endian)
//     ValueInfoProto     name 1, type 2 {tensor_type 1 {elem_type 1, shape 2 {dim 1 {dim_value 1 | dim_param 2}}}},
//                        doc_string 3

public enum ONNX {
    /// Opset 13 with IR version 7, its release: every operator the export uses is in it.
    public static let opsetVersion = 13
    public static let irVersion = 7

    public enum DataType: Int, Sendable { case float = 1, int64 = 7 }

    /// A constant (weights, shapes), stored as raw little-endian bytes.
    public struct Tensor: Sendable {
        public let name: String
        public let dims: [Int]
        public let dataType: DataType
        let raw: [UInt8]

        public static func floats(_ name: String, dims: [Int], _ values: [Float]) -> Tensor {
            precondition(values.count == dims.reduce(1, *))
            var raw: [UInt8] = []
            raw.reserveCapacity(values.count * 4)
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 } }
            return Tensor(name: name, dims: dims, dataType: .float, raw: raw)
        }

        public static func int64s(_ name: String, dims: [Int], _ values: [Int]) -> Tensor {
            precondition(values.count == dims.reduce(1, *))
            var raw: [UInt8] = []
            for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { raw += $0 } }
            return Tensor(name: name, dims: dims, dataType: .int64, raw: raw)
        }

        func encode(_ w: inout ProtobufWriter) {
            w.packed(1, dims)
            w.int(2, dataType.rawValue)
            w.string(8, name)
            w.bytes(9, raw)
        }
    }

    public enum Attribute: Sendable {
        case int(String, Int)
        case ints(String, [Int])
        case float(String, Float)

        func encode(_ w: inout ProtobufWriter) {
            switch self {
            case .int(let name, let value):
                w.string(1, name)
                w.int(3, value)
                w.int(20, 2)
            case .ints(let name, let values):
                w.string(1, name)
                w.packed(8, values)
                w.int(20, 7)
            case .float(let name, let value):
                w.string(1, name)
                w.float(2, value)
                w.int(20, 1)
            }
        }
    }

    public struct Node: Sendable {
        public let op: String
        public let inputs: [String]
        public let outputs: [String]
        public let name: String
        public let attributes: [Attribute]

        func encode(_ w: inout ProtobufWriter) {
            for input in inputs { w.string(1, input) }
            for output in outputs { w.string(2, output) }
            w.string(3, name)
            w.string(4, op)
            for attribute in attributes { w.message(5) { attribute.encode(&$0) } }
        }
    }

    /// A graph input or output: a float tensor whose dimensions are sizes or names ("N").
    public struct ValueInfo: Sendable {
        public enum Dimension: Sendable { case size(Int), named(String) }
        public let name: String
        public let dims: [Dimension]
        public let doc: String

        func encode(_ w: inout ProtobufWriter) {
            w.string(1, name)
            w.message(2) { type in
                type.message(1) { tensor in
                    tensor.int(1, DataType.float.rawValue)
                    tensor.message(2) { shape in
                        for dim in dims {
                            shape.message(1) { d in
                                switch dim {
                                case .size(let n): d.int(1, n)
                                case .named(let name): d.string(2, name)
                                }
                            }
                        }
                    }
                }
            }
            w.string(3, doc)
        }
    }

    public struct Graph: Sendable {
        public init(name: String) { self.name = name }
        public var name: String
        public var nodes: [Node] = []
        public var initializers: [Tensor] = []
        public var inputs: [ValueInfo] = []
        public var outputs: [ValueInfo] = []
        public var doc = ""

        func encode(_ w: inout ProtobufWriter) {
            for node in nodes { w.message(1) { node.encode(&$0) } }
            w.string(2, name)
            for tensor in initializers { w.message(5) { tensor.encode(&$0) } }
            w.string(10, doc)
            for input in inputs { w.message(11) { input.encode(&$0) } }
            for output in outputs { w.message(12) { output.encode(&$0) } }
        }
    }

    public struct Model: Sendable {
        public var graph: Graph
        public var producerName = "runner"
        public var producerVersion = ""
        public var doc = ""
        /// Key-value pairs tools show with the model (Netron's "metadata").
        public var metadata: [(key: String, value: String)] = []

        public init(graph: Graph) { self.graph = graph }

        /// The .onnx file's bytes.
        public func serialized() -> [UInt8] {
            var w = ProtobufWriter()
            w.int(1, irVersion)
            w.string(2, producerName)
            w.string(3, producerVersion)
            w.string(6, doc)
            w.message(7) { graph.encode(&$0) }
            w.message(8) { opset in
                opset.string(1, "")
                opset.int(2, opsetVersion)
            }
            for (key, value) in metadata {
                w.message(14) { entry in
                    entry.string(1, key)
                    entry.string(2, value)
                }
            }
            return w.bytes
        }
    }
}
