// SHA-256 of decompressed file contents, the identity of a dataset file: the gzip wrappers differ
// between mirrors (and re-compressed copies), the decompressed bytes do not.
import Crypto
import Foundation

/// Hashing used to verify dataset files.
public enum Checksum {
    /// The SHA-256 of `bytes` as 64 lower-case hex digits (the format of `sha256sum`).
    public static func sha256(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { sha256($0) }
    }

    /// The SHA-256 of the bytes in `buffer`, as 64 lower-case hex digits.
    public static func sha256(_ buffer: UnsafeRawBufferPointer) -> String {
        hex(SHA256.hash(data: buffer))
    }

    /// The SHA-256 of `bytes` as its 32 raw bytes (to store in a file).
    public static func sha256Digest(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// Lower-case hex, two digits per byte (as `sha256sum` prints digests).
    public static func hex(_ bytes: some Sequence<UInt8>) -> String { Datasets.hex(bytes) }
}
