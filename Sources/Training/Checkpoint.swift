// The checkpoint file: a JSON header and tensors, sealed by a SHA-256, written atomically.
//
//     offset        size  content
//     0             8     magic "MNISTCKP" (the header type's `magic`: "MNISTRPD" for report data)
//     8             4     format version, UInt32 little-endian (this code writes and reads 1)
//     12            4     header length H, UInt32 LE
//     16            8     tensor bytes P, UInt64 LE
//     24            H     header: UTF-8 JSON; its "tensors" lists (name, shape, dtype) in file order
//     24+H          P     the tensors, one after the other, no padding: Float32 little-endian, or
//                         UInt8 for a tensor whose "dtype" is "uint8" (no "dtype": float32, so
//                         checkpoints, all Float32, read and write the same bytes as before dtypes)
//     24+H+P        32    SHA-256 of every byte before it
//
// What the header holds besides "tensors" is the caller's (Experiments' RunCheckpoint and
// ReportData document their keys). Reading checks, in this order: magic, version, lengths against the file size, the
// checksum, the JSON, the tensor table against P — so a file is either wholly trusted or
// rejected with the reason, and nothing is copied into a model before all checks passed.
// Writing goes through a temporary file, fsync, rename and a directory fsync: after a crash at
// any instant the path holds the previous checkpoint or the new one, never a mix.
import Datasets
import Foundation
import Kernels

/// One tensor of a checkpoint.
public struct CheckpointTensor: Codable, Sendable, Equatable {
    /// How a tensor's values are stored.
    public enum ElementType: String, Codable, Sendable {
        case float32, uint8
        /// Bytes per value.
        public var size: Int { self == .float32 ? 4 : 1 }
    }

    /// "<group>/<layer>/<tensor>", e.g. "parameters/dense_1/kernel", "optimizer.m", "best.state".
    public let name: String
    public let shape: [Int]
    /// nil: float32 (and no "dtype" key in the header, as before element types existed).
    public let dtype: ElementType?
    public var count: Int { shape.reduce(1, *) }
    public var elementType: ElementType { dtype ?? .float32 }

    public init(name: String, shape: [Int], dtype: ElementType? = nil) {
        self.name = name
        self.shape = shape
        self.dtype = dtype == .float32 ? nil : dtype
    }
}

/// A header type a checkpoint can carry: JSON with at least the tensor table.
public protocol CheckpointHeader: Codable {
    var tensors: [CheckpointTensor] { get }
    /// The file's first 8 bytes (default "MNISTCKP").
    static var magic: [UInt8] { get }
    /// What the file is called in errors ("checkpoint").
    static var fileKind: String { get }
}

extension CheckpointHeader {
    public static var magic: [UInt8] { Array("MNISTCKP".utf8) }
    public static var fileKind: String { "checkpoint" }
}

/// A tensor's values for `CheckpointFile.write`.
public enum TensorValues {
    case float32(FloatView)
    case floats([Float])
    case uint8([UInt8])

    public var count: Int {
        switch self {
        case .float32(let v): v.count
        case .floats(let v): v.count
        case .uint8(let b): b.count
        }
    }
    public var elementType: CheckpointTensor.ElementType {
        if case .uint8 = self { return .uint8 }
        return .float32
    }
}

/// Why a checkpoint could not be used. Every case names the file.
public struct CheckpointError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case unreadable, notACheckpoint = "not a checkpoint", truncated, corrupt
        case futureVersion = "written by a newer runner", mismatch = "does not match the model"
        case changedExperiment = "the experiment changed"
        /// Writing failed (a full disk, a missing folder): a runtime failure, not a bad checkpoint.
        case unwritable = "cannot be written"
    }
    public let path: String
    public let kind: Kind
    public let reason: String
    public let hint: String?
    /// "checkpoint", or what else the file is (`CheckpointHeader.fileKind`).
    public let file: String

    public init(path: String, kind: Kind, reason: String, hint: String? = nil, file: String = "checkpoint") {
        self.path = path
        self.kind = kind
        self.reason = reason
        self.hint = hint
        self.file = file
    }

    public var description: String {
        "error: \(file) \(path): \(kind.rawValue): \(reason)" + (hint.map { "\nhint: \($0)" } ?? "")
    }
}

/// A checkpoint read into memory and verified; tensors are copied out by name.
public struct CheckpointFile<Header: CheckpointHeader> {
    public static var magic: [UInt8] { Header.magic }
    public static var formatVersion: UInt32 { 1 }
    static var prefixLength: Int { 24 }
    static var digestLength: Int { 32 }

    public let path: String
    public let header: Header
    private let bytes: [UInt8]
    private let offsets: [String: (offset: Int, tensor: CheckpointTensor)]

    /// Header and payload encoding: doubles keep every bit (shortest round-trip text), and the
    /// infinities/NaNs a tracker or a diverged loss can hold are written as strings.
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// Reads and verifies `path`; throws a CheckpointError saying what is wrong.
    public init(path: String) throws(CheckpointError) {
        self.path = path
        func fail(_ kind: CheckpointError.Kind, _ reason: String, _ hint: String? = nil) -> CheckpointError {
            CheckpointError(path: path, kind: kind, reason: reason, hint: Header.fileKind == "checkpoint" ? hint : nil,
                            file: Header.fileKind)
        }
        do {
            bytes = try FileIO.read(path)
        } catch {
            if case .unreadable(_, let reason) = error { throw fail(.unreadable, reason) }
            throw fail(.unreadable, "\(error)")
        }
        guard bytes.count >= 8, Array(bytes[0..<8]) == Self.magic else {
            throw fail(.notACheckpoint, bytes.isEmpty ? "the file is empty" : "it does not start with \"\(String(decoding: Self.magic, as: UTF8.self))\"",
                       "pass a .ckpt file from a run folder's checkpoints/ (or the run folder itself)")
        }
        guard bytes.count >= Self.prefixLength else {
            throw fail(.truncated, "\(bytes.count) bytes, shorter than the \(Self.prefixLength)-byte prefix")
        }
        let version = Self.load(UInt32.self, at: 8, in: bytes)
        guard version <= Self.formatVersion else {
            throw fail(.futureVersion, "format \(version); this runner reads format \(Self.formatVersion)",
                       "use the runner version that wrote it, or a newer one")
        }
        guard version >= 1 else { throw fail(.corrupt, "format version 0 does not exist") }
        let headerLength = Int(Self.load(UInt32.self, at: 12, in: bytes))
        let payload = Self.load(UInt64.self, at: 16, in: bytes)
        guard payload < UInt64(Int.max / 2) else { throw fail(.corrupt, "a tensor length of \(payload) bytes") }
        let expected = Self.prefixLength + headerLength + Int(payload) + Self.digestLength
        guard bytes.count >= expected else {
            throw fail(.truncated, "\(bytes.count) bytes where its lengths say \(expected)",
                       "the file was cut short (copied while written, or a full disk); use an earlier checkpoint")
        }
        guard bytes.count == expected else {
            throw fail(.corrupt, "\(bytes.count - expected) bytes after the end its lengths give")
        }
        let stored = Checksum.hex(bytes[(expected - Self.digestLength)...])
        let computed = bytes.withUnsafeBytes { Checksum.sha256(UnsafeRawBufferPointer(rebasing: $0[..<(expected - Self.digestLength)])) }
        guard stored == computed else {
            throw fail(.corrupt, "SHA-256 mismatch: stored \(stored.prefix(16))…, contents hash to \(computed.prefix(16))…",
                       "the file was changed after it was written; use an earlier checkpoint")
        }
        let json = Data(bytes[Self.prefixLength..<(Self.prefixLength + headerLength)])
        do {
            header = try Self.decoder.decode(Header.self, from: json)
        } catch {
            throw fail(.corrupt, "its header cannot be read: \(Self.describe(error))")
        }
        var table: [String: (Int, CheckpointTensor)] = [:]
        var offset = Self.prefixLength + headerLength
        for tensor in header.tensors {
            guard tensor.shape.allSatisfy({ $0 >= 0 }), table[tensor.name] == nil else {
                throw fail(.corrupt, "tensor '\(tensor.name)' is listed twice or has a negative size")
            }
            table[tensor.name] = (offset, tensor)
            offset += tensor.count * tensor.elementType.size
        }
        guard offset == Self.prefixLength + headerLength + Int(payload) else {
            throw fail(.corrupt, "its tensor table covers \(offset - Self.prefixLength - headerLength) bytes, the file \(payload)")
        }
        offsets = table
    }

    public func has(_ name: String) -> Bool { offsets[name] != nil }

    /// The table entry of tensor `name`, checked to hold `type` values.
    private func entry(_ name: String, _ type: CheckpointTensor.ElementType) throws(CheckpointError)
        -> (offset: Int, tensor: CheckpointTensor) {
        guard let found = offsets[name] else {
            throw CheckpointError(path: path, kind: .corrupt, reason: "it has no tensor '\(name)'", file: Header.fileKind)
        }
        guard found.tensor.elementType == type else {
            throw CheckpointError(path: path, kind: .corrupt,
                                  reason: "tensor '\(name)' holds \(found.tensor.elementType.rawValue), not \(type.rawValue)",
                                  file: Header.fileKind)
        }
        return found
    }

    /// The shape of tensor `name`, nil when there is none.
    public func shape(_ name: String) -> [Int]? { offsets[name]?.tensor.shape }

    /// The values of the uint8 tensor `name`.
    public func byteValues(_ name: String) throws(CheckpointError) -> [UInt8] {
        let (offset, tensor) = try entry(name, .uint8)
        return Array(bytes[offset..<(offset + tensor.count)])
    }

    /// The values of the float32 tensor `name`.
    public func floatValues(_ name: String) throws(CheckpointError) -> [Float] {
        let (offset, tensor) = try entry(name, .float32)
        return bytes.withUnsafeBytes { raw in
            (0..<tensor.count).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * $0, as: UInt32.self)))
            }
        }
    }

    /// Copies tensor `name` into `destination`, whose size must match.
    public func copy(_ name: String, into destination: FloatView) throws(CheckpointError) {
        let (offset, tensor) = try entry(name, .float32)
        guard tensor.count == destination.count else {
            throw CheckpointError(path: path, kind: .mismatch,
                                  reason: "tensor '\(name)' holds \(tensor.count) values, the model needs \(destination.count)")
        }
        bytes.withUnsafeBytes { raw in
            for i in 0..<tensor.count {
                destination[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)))
            }
        }
    }

    /// Writes a checkpoint of Float32 tensors: `tensors` in the order of `header.tensors`, each of the listed size.
    public static func write(header: Header, tensors: [FloatView], to path: String) throws {
        try write(header: header, values: tensors.map { .float32($0) }, to: path)
    }

    /// Writes a file: `values` in the order of `header.tensors`, each of the listed size and type.
    public static func write(header: Header, values: [TensorValues], to path: String) throws {
        precondition(header.tensors.count == values.count
                     && zip(header.tensors, values).allSatisfy { $0.count == $1.count && $0.elementType == $1.elementType },
                     "the header's tensor table does not describe the tensors")
        let json = try encoder.encode(header)
        let payload = header.tensors.reduce(0) { $0 + $1.count * $1.elementType.size }
        var bytes = magic
        bytes.reserveCapacity(prefixLength + json.count + payload + digestLength)
        append(formatVersion, to: &bytes)
        append(UInt32(json.count), to: &bytes)
        append(UInt64(payload), to: &bytes)
        bytes.append(contentsOf: json)
        for tensor in values {
            switch tensor {
            case .float32(let view): for i in 0..<view.count { append(view[i].bitPattern, to: &bytes) }
            case .floats(let values): for v in values { append(v.bitPattern, to: &bytes) }
            case .uint8(let values): bytes.append(contentsOf: values)
            }
        }
        bytes.append(contentsOf: Checksum.sha256Digest(bytes))
        do {
            try FileIO.writeAtomically(bytes, to: path)
        } catch {
            // The reason without FileIO's temporary file name: the path is the checkpoint's.
            guard case .fileSystem(_, let reason) = error else {
                throw CheckpointError(path: path, kind: .unwritable, reason: "\(error)", file: Header.fileKind)
            }
            throw CheckpointError(path: path, kind: .unwritable, reason: reason,
                                  hint: reason.contains("No space left") ? "free some space, then `runner resume` continues "
                                      + "the run from its last checkpoint" : nil, file: Header.fileKind)
        }
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func load<T: FixedWidthInteger>(_: T.Type, at offset: Int, in bytes: [UInt8]) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            "\(context.debugDescription) at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        default: "\(error)"
        }
    }
}
