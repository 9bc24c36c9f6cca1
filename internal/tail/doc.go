// Package tail follows log files as they grow, through rotation, truncation
// and deletion, and hands every complete line exactly once to a Sink,
// keeping its read positions in a positions file across restarts.
//
// # What is followed
//
// Config.Inputs are files or globs. Every PollInterval the globs are
// expanded again (so new files are picked up) and every followed file is
// read to its end; a file seen for the first time is read from its
// beginning. A line is delivered only once its newline has been written; a
// partial last line waits. A line longer than MaxLineBytes is skipped (even
// when its end arrives much later), counted and reported with its file and
// line number. Compressed files (gzip, bzip2, xz, zstd) matching a glob are
// not followed: they are finished rotations for the batch readers. At most
// MaxOpenFiles descriptors are held; beyond that, files at their end give
// theirs up. Reading uses pread at explicit offsets: no seek state, and a
// position is always the start of a line.
//
// Notification is by polling (a stat per file per PollInterval, and reading
// until the end while data keeps coming), not inotify: it works the same on
// every filesystem (NFS, overlay, bind mounts) and costs nothing measurable
// next to the reading (see BenchmarkFollow). github.com/nxadm/tail was
// considered and not used: its offsets come from a buffered reader and are
// reset on reopen, it reopens a moved file without draining the old
// descriptor, hands a partial last line over as a line of its own when it
// reaches the end of the file, sees truncation only by size, splits long
// lines instead of skipping them, and has no fingerprints.
//
// # Identity: inode and fingerprint
//
// A file is known by its device and inode and by a fingerprint: the SHA-256
// of its first FingerprintBytes bytes (1 KiB), or of all of it while it is
// shorter; the fingerprint grows with the file until it covers the full
// FingerprintBytes. A file on disk is "the same" as a known one when its
// first fp_len bytes hash to the known fingerprint:
//
//   - rename+create: the renamed file keeps its inode and fingerprint, so
//     it is finished from where reading stopped, through the descriptor the
//     tailer holds (even if it left the glob or was deleted); the new file
//     is new.
//   - copytruncate: the truncated file's head no longer matches (it is
//     shorter than fp_len, or holds different bytes), so its old position
//     is detached from the inode; the copy, whose head does match, takes
//     that position over and is read from there. The truncated file starts
//     again at offset 0. Only a copy that matches the globs can be found,
//     so the globs must include the rotated names (conn.log*) for a
//     copytruncate to lose nothing; a file that is truncated without a copy
//     found is counted in Stats.LostTruncations.
//   - a restart: a saved position is bound first to the file with the same
//     inode whose head still matches, then to any file whose head matches
//     (a file renamed or copied while mlads was down). A rotated file is
//     therefore never read again as a new one.
//
// A new file whose head is still short could be a copy being written: it
// is looked at again one scan later before it is read as new, and a file
// whose full 1 KiB head equals that of a file still being followed (a
// backup copy) is not read while the original is followed.
//
// Files are read in the order they were first seen, so a rotated file is
// finished before its successor; files first seen in the same scan (at the
// first start, or rotated while mlads was down) are taken oldest first, by
// modification time, not by name.
//
// # No loss, no duplicates
//
// The tailer runs in one goroutine and calls Sink.Line for each line in
// order. Every CommitInterval (and when it stops) it calls Sink.Commit,
// which must make everything handed over so far durable downstream and
// return a checkpoint of the downstream state (for a file output: its
// length); only then are the positions and that checkpoint written,
// together, to the positions file (write a temporary file, fsync, rename,
// fsync the directory). New gives the last committed checkpoint to the
// function that opens the sink, before any line is read.
//
// So after a crash at any moment (SIGKILL, power loss with fsync) the
// positions file describes a state where the input positions and the
// output length agree. Output written after that commit belongs to lines
// after the saved positions: the sink truncates its output back to the
// checkpoint and those lines are read and written again. Inside the
// process delivery is at least once; at the output, through the
// checkpoint, exactly once. A sink that cannot truncate (stdout) gets at
// least once. A sink holding records back between lines (the daemon's EVE
// netflow halves waiting for their partner) keeps them in its checkpoint,
// so that a crash loses none of them, and implements Drainer: a graceful
// stop drains it before the last commit. It also implements Ticker, ticked
// after every pass over the files, so it can give up on what it holds
// while no line comes.
//
// Known limits: lines written to a file between the copy and the truncation
// of a copytruncate are lost by the rotation itself (logrotate documents
// this); a file deleted while mlads is stopped cannot be finished.
package tail
