// TensorBoard event files: TFRecord records (TFRecord.swift), each an `Event` protocol buffer —
// first the file version, then summaries: scalars, PNG images, and text (Markdown, TensorBoard's
// text plugin). Field numbers are those of tensorflow/core/util/event.proto and summary.proto:
//
//     Event    wall_time 1 (double), step 2 (int64), file_version 3 (string), summary 5
//     Summary  value 1 (repeated Value)
//     Value    tag 1, simple_value 2 (float), image 4, tensor 8, metadata 9
//     Image    height 1, width 2, colorspace 3 (1 gray, 3 RGB), encoded_image_string 4 (PNG)
//     SummaryMetadata  plugin_data 1 {plugin_name 1, content 2}
//     TensorProto      dtype 1 (7 = DT_STRING), tensor_shape 2 (empty: a scalar), string_val 8
import Foundation

/// One event file in `directory`, named events.out.tfevents.<seconds>.<host>.<pid>.<n> as
/// TensorFlow names them (TensorBoard reads every file with "tfevents" in its name, in name order).
/// Events are buffered and reach the file on `flush` (and when the buffer grows past 64 KiB); the
/// first failed write is kept in `failure` and ends the writing.
public final class EventFileWriter {
    public let path: String
    public private(set) var failure: EventFileError?
    private let fd: Int32
    private var buffer: [UInt8] = []
    nonisolated(unsafe) private static var counter = 0

    /// Creates the directory if needed and the file, and writes its first event (the version).
    public init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var host = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&host, host.count) == 0
            ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        Self.counter += 1
        path = (directory as NSString).appendingPathComponent(
            "events.out.tfevents.\(Int(wallTime)).\(hostname).\(getpid()).\(Self.counter)")
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw EventFileError(path: path, reason: String(cString: strerror(errno))) }
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.string(3, "brain.Event:2")
        append(event.bytes)
        flush()
        if let failure { throw failure }
    }

    deinit {
        flush()
        close(fd)
    }

    /// A scalar (TensorBoard's Scalars tab), stored as float32 like tf.summary.scalar's simple_value.
    public func scalar(_ tag: String, _ value: Double, step: Int, wallTime: Double = Date().timeIntervalSince1970) {
        summary(step: step, wallTime: wallTime) { v in
            v.string(1, tag)
            v.float(2, Float(value))
        }
    }

    /// A PNG image (the Images tab); `colorspace` 1 for gray, 3 for RGB.
    public func image(_ tag: String, png: [UInt8], width: Int, height: Int, colorspace: Int = 1, step: Int,
                      wallTime: Double = Date().timeIntervalSince1970) {
        summary(step: step, wallTime: wallTime) { v in
            v.string(1, tag)
            v.message(4) { image in
                image.int(1, height)
                image.int(2, width)
                image.int(3, colorspace)
                image.bytes(4, png)
            }
        }
    }

    /// Markdown text (the Text tab).
    public func text(_ tag: String, _ markdown: String, step: Int, wallTime: Double = Date().timeIntervalSince1970) {
        summary(step: step, wallTime: wallTime) { v in
            v.string(1, tag)
            v.message(9) { metadata in metadata.message(1) { plugin in plugin.string(1, "text") } }
            v.message(8) { tensor in
                tensor.int(1, 7)
                tensor.message(2) { _ in }
                tensor.string(8, markdown)
            }
        }
    }

    /// Writes the buffered events to the file (after a failure: drops them).
    public func flush() {
        var written = 0
        while failure == nil && written < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n >= 0 { written += n } else if errno != EINTR {
                failure = EventFileError(path: path, reason: String(cString: strerror(errno)))
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func summary(step: Int, wallTime: Double, _ value: (inout ProtobufWriter) -> Void) {
        var event = ProtobufWriter()
        event.double(1, wallTime)
        event.int(2, step)
        event.message(5) { summary in summary.message(1, value) }
        append(event.bytes)
        if buffer.count > 1 << 16 { flush() }
    }

    private func append(_ event: [UInt8]) { buffer += TFRecord.frame(event) }
}

/// An event file could not be created or written.
public struct EventFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "cannot write TensorBoard events to \(path): \(reason)" }
}
