package recording

import "unicode/utf8"

// MaxCommandLen is the most bytes of an exec command (or subsystem name)
// that the index row, the log line and the audit event of a session keep,
// and so the most the web pages, the API and the CLI show. The recording's
// header keeps the whole command: it is the record, the rest are where
// people look for it.
//
// 4 KiB is far longer than a command anyone types or a tool such as
// Ansible sends, and short enough that a command of megabytes (a script
// passed as an argument) costs neither the index, the log nor a list page
// more than that.
const MaxCommandLen = 4096

// CutCommand returns cmd cut to at most MaxCommandLen bytes at a UTF-8
// character boundary, and cmd's whole length in bytes when it was cut (0
// when cmd is whole). Meta.CommandLen and the audit trail's "command_len"
// hold that length, so that what was cut is said, not silently lost.
func CutCommand(cmd string) (kept string, wholeLen int) {
	if len(cmd) <= MaxCommandLen {
		return cmd, 0
	}
	kept = cmd[:MaxCommandLen]
	// A character the cut split in two goes whole.
	for i := 1; i < utf8.UTFMax && i <= len(kept); i++ {
		if start := len(kept) - i; utf8.RuneStart(kept[start]) {
			if !utf8.FullRuneInString(kept[start:]) {
				kept = kept[:start]
			}
			break
		}
	}
	return kept, len(cmd)
}
