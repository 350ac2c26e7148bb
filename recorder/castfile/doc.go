// Package castfile reads and writes recording files in both of jumpcast's
// formats, and owns the keyframes that let a player open a recording of
// any length at any moment.
//
// The raw format is a plain asciicast v2 file, "YYYY/MM/DD/<id>.cast"
// (recordings made before the compressed format, and imports).
//
// The compressed format is two files side by side:
//
//   - "<id>.cast.gz", the same asciicast v2 stream as gzip members: the
//     header line alone in the first, then one member per chunk of events
//     (a chunk closes ChunkSpan seconds after its first event or at
//     ChunkBytes, at a flush). Concatenated gzip members are one gzip
//     stream, so `zcat <id>.cast.gz` prints the plain .cast. Each write
//     ends with a sync flush, so a file cut by a crash decodes to its last
//     flush.
//   - "<id>.cast.idx", the index: a first line naming the format, then one
//     JSON line per closed chunk — its byte range in the data file, the
//     times of its first and last events, its event count and output
//     bytes, its markers, and, once computed, the keyframe of its start
//     (the screen as VT bytes, see Keyframe) — and, once the recording is
//     closed, a last line with the data's size and whether every keyframe
//     is there. The index is derived data: a missing or short one is
//     completed from the data file by Open.
//
// The archived format (zstd.go) is the compressed one with zstd frames at
// zstd's best level in place of gzip members: "<id>.cast.zst" (`zstdcat`
// prints the plain .cast) and "<id>.cast.zst.idx", the same index. Archive
// writes it from a closed recording (`jumpcast recordings compact`);
// sessions never write it. Readers tell the two apart by the data's first
// bytes.
//
// Keyframes come from a terminal emulator, github.com/charmbracelet/x/vt,
// wrapped by Screen. Nothing is emulated on the recording's path: the
// session's Writer writes the index without keyframes; a Reader makes the
// ones it is asked for on demand and keeps them in the index of a closed
// recording (IndexKeeper); WriteIndex, run by the recorder's background
// indexer, makes them all.
//
// The package imports nothing of jumpcast but recorder/asciicast.
// Files: index.go (the types and the index file), writer.go, reader.go,
// zstd.go (the archived format), ondemand.go (keyframes made by readers),
// build.go (cutting chunks, reading lines), screen.go and peek.go (the
// emulator and its keyframes).
package castfile
