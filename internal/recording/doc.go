// Package recording is the vocabulary a recorded session is known by
// everywhere in jumpcast: its id (NewID, ValidID, IDTime), the file path
// the id names (RelPath), its lifecycle (Status), the durability bound of
// its file (MaxFlushInterval), how much of a command is kept outside the
// file (MaxCommandLen, CutCommand) and Meta, the one row of metadata that the
// recorder produces, the index (package store) keeps and the web and CLI
// show.
//
// It is a leaf: it imports nothing of jumpcast, so that recorder and store,
// which must not import each other, share one definition instead of two
// copies. It holds no I/O and no policy: what is here changes only when
// the meaning of a recording changes, and stored data depends on it (ids
// are bbolt keys, and rows do not store a Path that RelPath derives).
package recording
