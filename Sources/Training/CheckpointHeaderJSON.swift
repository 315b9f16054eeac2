// A checkpoint's header without its tensors: for listings of many runs, which need the run's
// state but not its weights. Only the prefix is checked (magic, version, the header length against
// the file size); the SHA-256, which covers the tensors, is not — use CheckpointFile to trust one.
import Foundation

extension CheckpointFile {
    /// The header's JSON bytes of the checkpoint at `path` (the first 24 + H bytes of the file).
    public static func headerJSON(path: String) throws(CheckpointError) -> Data {
        func fail(_ kind: CheckpointError.Kind, _ reason: String) -> CheckpointError {
            CheckpointError(path: path, kind: kind, reason: reason)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw fail(.unreadable, "cannot open it") }
        defer { try? handle.close() }
        let prefix = [UInt8]((try? handle.read(upToCount: prefixLength)) ?? Data())
        guard prefix.count == prefixLength, Array(prefix[0..<8]) == magic else {
            throw fail(.notACheckpoint, "it does not start with \"MNISTCKP\" and a 24-byte prefix")
        }
        func field<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
            prefix.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }
        let version = field(UInt32.self, at: 8)
        guard version >= 1 && version <= formatVersion else { throw fail(.futureVersion, "format \(version)") }
        let length = Int(field(UInt32.self, at: 12))
        guard let json = try? handle.read(upToCount: length), json.count == length else {
            throw fail(.truncated, "the file ends inside its \(length)-byte header")
        }
        return json
    }
}
