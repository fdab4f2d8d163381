package sources

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/logcapturer/logcapturer/wal"
)

// TakeoverDocker returns the position at which a docker source with these
// options resumes the json-file log of container id, which Promtail's
// docker_sd_configs target read through the Docker API and recorded as
// read up to since: the Unix second of the last entry it sent (its
// positions file holds cursor-<id>: seconds). On its own restart Promtail
// asks the Docker API for the logs since that second, so it sends that
// second's entries again; the position taken over does the same: the
// first record of the container's log file (<id>/<id>-json.log under one
// of the source's paths) whose time is at or after since, or the start of
// the partial-line sequence that record continues. Those entries reach
// Loki with the same labels, timestamp and line as before, which Loki
// drops as duplicates. Then TakeoverPosition checks the file as for any
// file of Promtail's (savedAt is when Promtail saved its positions).
//
// A source that is not a docker source, or whose paths do not hold that
// container's log, returns an error wrapping fs.ErrNotExist; a log whose
// every record is older than since resumes after its last whole line.
func (c *FileConfig) TakeoverDocker(id string, since, savedAt time.Time) (wal.Position, error) {
	if c.Type() != TypeDocker {
		return wal.Position{}, fmt.Errorf("container %s: %w", id, fs.ErrNotExist)
	}
	path, err := c.dockerLog(id)
	if err != nil {
		return wal.Position{}, err
	}
	offset, err := dockerOffsetSince(path, since)
	if err != nil {
		return wal.Position{}, err
	}
	return c.TakeoverPosition(path, offset, savedAt)
}

// dockerLog returns the path of container id's json-file log among the
// files the source's paths match.
func (c *FileConfig) dockerLog(id string) (string, error) {
	paths := c.Paths
	if len(paths) == 0 {
		paths = []string{DefaultDockerPath}
	}
	for _, p := range paths {
		matches, err := filepath.Glob(p)
		if err != nil {
			return "", fmt.Errorf("paths %q: %w", p, err)
		}
		for _, m := range matches {
			if filepath.Base(m) == id+"-json.log" && filepath.Base(filepath.Dir(m)) == id && c.Tails(m) {
				return m, nil
			}
		}
	}
	return "", fmt.Errorf("no log of container %s under the source's paths: %w", id, fs.ErrNotExist)
}

// dockerOffsetSince returns the offset of the first json-file record of
// path whose time is at or after since (or of the first record of the
// partial-line sequence it ends), or the end of its last whole line when
// there is none.
// A record whose time does not parse counts as at or after since: better
// read again than skipped.
func dockerOffsetSince(path string, since time.Time) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var (
		off, lineStart int64
		partial        bool
		scratch        []byte
	)
	limit := since.UTC().UnixNano()
	for {
		if !partial {
			lineStart = off
		}
		line, err := r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull), err == io.EOF:
			// A record longer than Docker writes (it cuts lines at 16 KiB)
			// is garbage, and one without its newline is still being
			// written: read again from the line it is part of.
			return lineStart, nil
		case err != nil:
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		rec := decodeDocker(line[:len(line)-1], &scratch)
		scratch = scratch[:0]
		if rec.time == 0 || rec.time >= limit {
			return lineStart, nil
		}
		partial = rec.partial
		off += int64(len(line))
	}
}
