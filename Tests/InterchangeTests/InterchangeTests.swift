// The hand-written formats, byte for byte: protobuf fields, CRC-32C and TFRecord frames, event
// files read back record by record, the ONNX graph of each layer type, the confusion picture.
// (onnxruntime and TensorBoard's own reader check the real files in RunnerTests.)
import Foundation
import Interchange
import Kernels
import NeuralNetwork
import Testing

@Suite("Protobuf, TFRecord, event files, ONNX graphs")
struct InterchangeTests {
    @Test("protobuf: varints, negative ints, fixed floats and doubles, strings, nested and packed fields")
    func protobuf() {
        var w = ProtobufWriter()
        w.int(1, 150)
        #expect(w.bytes == [0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.int(2, -1)
        #expect(w.bytes == [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        w = ProtobufWriter()
        w.string(2, "testing")
        #expect(w.bytes == [0x12, 0x07] + Array("testing".utf8))
        w = ProtobufWriter()
        w.float(2, 1.5)
        #expect(w.bytes == [0x15, 0x00, 0x00, 0xC0, 0x3F])
        w = ProtobufWriter()
        w.double(1, 1)
        #expect(w.bytes == [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
        w = ProtobufWriter()
        w.message(3) { $0.int(1, 150) }
        #expect(w.bytes == [0x1A, 0x03, 0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.packed(4, [3, 270, 86942])
        #expect(w.bytes == [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
    }

    @Test("CRC-32C check values and TFRecord's mask and framing")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        let crc = CRC32C.checksum([1, 2, 3])
        #expect(CRC32C.masked([1, 2, 3]) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        let frame = TFRecord.frame([7, 8, 9])
        #expect(frame.count == 8 + 4 + 3 + 4)
        #expect(Array(frame[0..<8]) == [3, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(frame[12..<15]) == [7, 8, 9])
        #expect(UInt32(littleEndian: frame[15...].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) == CRC32C.masked([7, 8, 9]))
    }

    @Test("an event file: a version record, then one record per summary, every CRC right")
    func eventFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path: String
        do {
            let writer = try EventFileWriter(directory: folder + "/train", wallTime: 1_700_000_000)
            path = writer.path
            writer.scalar("loss", 0.25, step: 3, wallTime: 1_700_000_001)
            writer.text("note", "**hi**", step: 3, wallTime: 1_700_000_001)
            let picture = GrayPicture(width: 2, height: 1, pixels: [0, 255])
            writer.image("img", png: picture.png, width: 2, height: 1, step: 3, wallTime: 1_700_000_001)
            writer.flush()
            #expect(writer.failure == nil)
        }
        #expect((path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var records: [[UInt8]] = []
        var at = 0
        while at < bytes.count {
            let length = Int(bytes[at..<at + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) })
            let lengthCRC = bytes[(at + 8)..<(at + 12)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(lengthCRC == CRC32C.masked(bytes[at..<at + 8]))
            let data = Array(bytes[(at + 12)..<(at + 12 + length)])
            let dataCRC = bytes[(at + 12 + length)..<(at + 16 + length)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(dataCRC == CRC32C.masked(data))
            records.append(data)
            at += 16 + length
        }
        #expect(at == bytes.count)
        #expect(records.count == 4)
        var version = ProtobufWriter()
        version.double(1, 1_700_000_000)
        version.string(3, "brain.Event:2")
        #expect(records[0] == version.bytes)
        var scalar = ProtobufWriter()
        scalar.double(1, 1_700_000_001)
        scalar.int(2, 3)
        scalar.message(5) { s in s.message(1) { v in v.string(1, "loss"); v.float(2, 0.25) } }
        #expect(records[1] == scalar.bytes)
        #expect(String(decoding: records[2], as: UTF8.self).contains("**hi**"))
        #expect(records[3].count > 60)
    }

    @Test("the confusion picture: one cell per pair plus labels, darker where a row has more")
    func confusionPicture() {
        let picture = GrayPicture.confusionMatrix([[9, 1], [0, 10]])
        #expect(picture.width > 0 && picture.height > 0)
        #expect(picture.pixels.count == picture.width * picture.height)
        #expect(Set(picture.pixels).count > 3)
        #expect(picture.png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(GrayPicture(width: 2, height: 1, pixels: [1, 2]).enlarged(2).pixels == [1, 1, 2, 2, 1, 1, 2, 2])
    }

    func model(_ layers: (Shape) throws -> [any Layer], input: [Int]) throws -> Sequential {
        try Sequential(name: "m", inputShape: Shape(input), layers: layers(Shape(input)), maxBatch: 2, seed: 1)
    }

    @Test("ONNX graphs: preprocessing as nodes, layout changes only where needed, the final softmax")
    func graphs() throws {
        let mlp = try model({ s in
            let flatten = Flatten(inputShape: s)
            let dense = try Dense(.init(units: 10, activation: .softmax), inputShape: flatten.outputShape)
            return [flatten, dense]
        }, input: [28, 28])
        // As the run builds it: the loss takes over the softmax, the graph puts it back once.
        try mlp.prepare(for: CrossEntropy(sparse: false))
        let g = try ONNXExport.graph(mlp, inputScale: 1 / 255, inputShift: 0)
        #expect(g.nodes.map(\.op) == ["Mul", "Flatten", "Gemm", "Softmax"])
        #expect(g.initializers.map(\.name) == ["input_scale", "dense/kernel", "dense/bias"])
        #expect(g.outputs.map(\.name) == ["probabilities"])

        let cnn = try model({ s in
            let conv = try Conv2D(.init(filters: 4, kernelSize: HeightWidth(3), activation: .relu), inputShape: s)
            let pool = try Pooling2D(.max, .init(), inputShape: conv.outputShape)
            let norm = try BatchNormalization(.init(), inputShape: pool.outputShape)
            let flatten = Flatten(inputShape: norm.outputShape)
            let dense = try Dense(.init(units: 10), inputShape: flatten.outputShape)
            return [conv, pool, norm, flatten, dense]
        }, input: [28, 28, 1])
        let c = try ONNXExport.graph(cnn, inputScale: 0.5, inputShift: -1)
        #expect(c.nodes.map(\.op) == ["Mul", "Add", "Transpose", "Conv", "Relu", "MaxPool", "BatchNormalization",
                                      "Transpose", "Flatten", "Gemm", "Softmax"])
        let kernel = try #require(c.initializers.first { $0.name == "conv2d/kernel" })
        #expect(kernel.dims == [4, 1, 3, 3])
    }
}
