// gzip in memory through zlib's inflate/deflate. Whole files are small enough (≤ 47 MB for MNIST)
// to hold at once, and working on a buffer lets every zlib failure become a precise error instead
// of gzread's silent short read.
import CZlib

/// gzip compression and decompression of in-memory buffers.
public enum Gzip {
    /// True when `bytes` start with the gzip magic 1f 8b. This, not the file name, decides whether
    /// a dataset file is decompressed.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses a gzip stream (several concatenated members are allowed, as `gunzip` does).
    /// `name` is the file or URL used in error messages.
    public static func decompress(_ input: [UInt8], name: String) throws(DatasetError) -> [UInt8] {
        guard isGzip(input) else {
            let start = input.prefix(4).map { hex([$0]) }.joined(separator: " ")
            throw .corruptGzip(path: name, reason: input.isEmpty ? "empty" : "not gzip (starts with \(start), not 1f 8b)")
        }
        var stream = z_stream()
        // 15 + 16: maximum window, gzip wrapper only (a bare zlib stream is not a .gz file).
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corruptGzip(path: name, reason: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }

        // The trailer's ISIZE is the uncompressed size mod 2^32: a good first guess, never trusted.
        // In a damaged or cut file those bytes are arbitrary, so the guess is also capped by
        // deflate's maximum ratio (about 1032:1) and 256 MiB; the buffer grows if needed.
        let isize = input.suffix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
        let capacity = min(isize, input.count * 1032, 1 << 28)
        var output = [UInt8](repeating: 0, count: max(capacity, 1 << 16))
        var produced = 0
        var failure: String? = nil

        input.withUnsafeBufferPointer { inBuffer in
            var consumed = 0
            while failure == nil {
                if produced == output.count {
                    output.append(contentsOf: repeatElement(0, count: output.count))
                }
                // avail_in/avail_out are 32-bit: feed and drain at most 1 GiB per call.
                let inChunk = min(inBuffer.count - consumed, 1 << 30)
                stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress! + consumed)
                stream.avail_in = UInt32(inChunk)
                let status = output.withUnsafeMutableBufferPointer { outBuffer in
                    let outChunk = min(outBuffer.count - produced, 1 << 30)
                    stream.next_out = outBuffer.baseAddress! + produced
                    stream.avail_out = UInt32(outChunk)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    produced += outChunk - Int(stream.avail_out)
                    return status
                }
                consumed += inChunk - Int(stream.avail_in)
                let remaining = inBuffer.count - consumed

                switch status {
                case Z_STREAM_END:
                    if remaining == 0 { return }
                    // Another gzip member follows, or garbage that gunzip would also reject.
                    if remaining >= 2, inBuffer[consumed] == 0x1F, inBuffer[consumed + 1] == 0x8B {
                        inflateReset(&stream)
                    } else {
                        failure = "\(remaining) bytes of trailing garbage after the gzip stream"
                    }
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_out > 0:
                    // No progress with room to write: the input ran out before the stream ended.
                    failure = "unexpected end of data after \(inBuffer.count) compressed bytes (file cut short?)"
                case Z_BUF_ERROR:
                    continue  // output full: grow and call again
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    failure = "\(message) at compressed byte \(consumed)"
                }
            }
        }
        if let failure { throw .corruptGzip(path: name, reason: failure) }
        output.removeSubrange(produced...)
        return output
    }

    /// Compresses `bytes` into a single gzip member. zlib only fails here on exhausted memory or
    /// a bad level, which are programming errors, hence the precondition.
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK,
                     "deflateInit2 failed (level \(level))")
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
        var produced = 0
        input.withUnsafeBufferPointer { inBuffer in
            var consumed = 0
            while true {
                if produced == output.count {
                    output.append(contentsOf: repeatElement(0, count: output.count))
                }
                let inChunk = min(inBuffer.count - consumed, 1 << 30)
                // zlib reads next_in only, but declares it mutable; an empty input has no base address.
                stream.next_in = inBuffer.baseAddress.map { UnsafeMutablePointer(mutating: $0 + consumed) }
                stream.avail_in = UInt32(inChunk)
                let flush = consumed + inChunk == inBuffer.count ? Z_FINISH : Z_NO_FLUSH
                let status = output.withUnsafeMutableBufferPointer { outBuffer in
                    let outChunk = min(outBuffer.count - produced, 1 << 30)
                    stream.next_out = outBuffer.baseAddress! + produced
                    stream.avail_out = UInt32(outChunk)
                    let status = deflate(&stream, flush)
                    produced += outChunk - Int(stream.avail_out)
                    return status
                }
                consumed += inChunk - Int(stream.avail_in)
                if status == Z_STREAM_END { return }
                precondition(status == Z_OK || status == Z_BUF_ERROR, "deflate failed: \(status)")
            }
        }
        output.removeSubrange(produced...)
        return output
    }
}
