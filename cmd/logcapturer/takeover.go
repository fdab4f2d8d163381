package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/logcapturer/logcapturer/config"
	"github.com/logcapturer/logcapturer/pipeline"
	"github.com/logcapturer/logcapturer/sources"
	"github.com/logcapturer/logcapturer/wal"
)

// takeoverName is the handover's name in state.db.
const takeoverName = "promtail"

// takeoverSource is what the options of a source type that can take
// Promtail's file positions implement (file, docker, cri).
type takeoverSource interface {
	Tails(path string) bool
	TakeoverPosition(path string, offset int64, savedAt time.Time) (wal.Position, error)
}

// dockerTakeover is what the options of a source type that can take
// Promtail's docker_sd_configs positions implement (docker).
type dockerTakeover interface {
	TakeoverDocker(id string, since, savedAt time.Time) (wal.Position, error)
}

// cursorTakeover is what the options of a source type that can take
// Promtail's journal cursor implement (journald).
type cursorTakeover interface {
	TakeoverCursor(job, cursor string) (wal.Position, bool)
}

// takeover hands Promtail's positions (cfg.Takeover) over to the sources,
// on the first start of the data directory: every file of Promtail's
// positions file that a source tails and that is still the file Promtail
// read (sources.FileConfig.TakeoverPosition) starts at Promtail's
// offset; every other entry is reported, one line each, and its file, if
// any, is read by start_at. The handover is recorded in state.db in one
// transaction with the positions (pipeline.Takeover) and never done
// again; Promtail's file is only read. An error (Promtail's file cannot
// be read or is not valid, a file cannot be checked) stops the start
// with nothing recorded.
func takeover(logger *slog.Logger, cfg *config.Config, cfgPath string, p *pipeline.Pipeline) error {
	t := cfg.Takeover
	if t.PromtailPositions == "" {
		return nil
	}
	if done, err := p.TakeoverDone(takeoverName); err != nil || done {
		return err
	}
	where := "takeover.promtail_positions"
	if cfgPath != "" {
		where = fmt.Sprintf("%s:%d: %s", cfgPath, t.Line, where)
	}
	log := logger.With("positions_file", t.PromtailPositions)
	fi, statErr := os.Stat(t.PromtailPositions)
	pp, err := config.ReadPromtailPositions(t.PromtailPositions)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Warn("Promtail's positions file does not exist: nothing to take over; files are read by start_at")
		return p.Takeover(takeoverName, "no positions file", nil)
	case errors.Is(err, config.ErrPositionsInvalid) && t.IgnoreInvalid:
		log.Warn("Promtail's positions file is not valid; ignore_invalid is set: starting without it", "err", err)
		return p.Takeover(takeoverName, "invalid positions file ignored", nil)
	case errors.Is(err, config.ErrPositionsInvalid):
		return fmt.Errorf("%s: %w; fix it, set takeover.ignore_invalid: true to start without it, or remove takeover (nothing was taken over)", where, err)
	case err != nil:
		return fmt.Errorf("%s: %w; make it readable by logcapturer, or remove takeover to start without it (nothing was taken over)", where, err)
	case statErr != nil:
		return fmt.Errorf("%s: %w (nothing was taken over)", where, statErr)
	}
	savedAt := fi.ModTime()

	positions := map[string][]wal.Position{}
	var taken, mismatched, missing, ignored int
	at := func(e config.PromtailPosition) string { return fmt.Sprintf("%s:%d", pp.File, e.Line) }
	for _, e := range pp.Entries {
		if job, ok := e.JournalJob(); ok {
			found := false
			for _, sc := range cfg.Sources {
				ts, ok := sc.Options.(cursorTakeover)
				if !ok {
					continue
				}
				pos, ok := ts.TakeoverCursor(job, e.Value)
				if !ok {
					continue
				}
				found = true
				if len(p.SourcePositions(sc.Name)) > 0 {
					log.Warn("source has a cursor of its own already; Promtail's is not used", "entry", at(e), "source", sc.Name, "job", job)
					continue
				}
				positions[sc.Name] = append(positions[sc.Name], pos)
				taken++
			}
			if !found {
				ignored++
				log.Info("no journald source has promtail_job for this journal cursor of Promtail's positions; ignored", "entry", at(e), "job", job)
			}
			continue
		}
		if id, since, ok := e.DockerContainer(); ok {
			switch err := takeoverDocker(log, cfg, p, positions, at(e), id, since, savedAt); {
			case err == nil:
				taken++
			case errors.Is(err, fs.ErrNotExist):
				ignored++
				log.Info("no docker source reads the log of this container of Promtail's positions; ignored", "entry", at(e), "container_id", id)
			case errors.Is(err, errTakenElsewhere):
				ignored++
			default:
				var mm *sources.Mismatch
				if errors.As(err, &mm) {
					mismatched++
					log.Warn("container log is no longer the one Promtail read; it is read by start_at", "entry", at(e), "container_id", id, "reason", mm.Reason)
					continue
				}
				return fmt.Errorf("%s: take over container %s (%s): %w; fix it, or remove takeover to start without Promtail's positions (nothing was taken over)", where, id, at(e), err)
			}
			continue
		}
		offset, ok := e.Offset()
		if !ok {
			ignored++
			log.Warn("entry of Promtail's positions file is not a file offset; ignored", "entry", at(e), "key", e.Key, "value", e.Value)
			continue
		}
		tailed := false
		for _, sc := range cfg.Sources {
			ts, ok := sc.Options.(takeoverSource)
			if !ok || !ts.Tails(e.Key) {
				continue
			}
			tailed = true
			if len(p.SourcePositions(sc.Name)) > 0 {
				log.Warn("source has positions of its own already; Promtail's is not used", "entry", at(e), "source", sc.Name, "path", e.Key)
				continue
			}
			pos, err := ts.TakeoverPosition(e.Key, offset, savedAt)
			var mm *sources.Mismatch
			switch {
			case err == nil:
				positions[sc.Name] = append(positions[sc.Name], pos)
				taken++
			case errors.Is(err, fs.ErrNotExist):
				missing++
				log.Warn("file of Promtail's positions no longer exists; its entry is ignored (nothing to do: what it held after Promtail's offset is gone)",
					"entry", at(e), "path", e.Key, "offset", offset)
			case errors.As(err, &mm):
				mismatched++
				log.Warn("file is no longer the one Promtail read; it is read by start_at",
					"entry", at(e), "source", sc.Name, "path", e.Key, "offset", offset, "reason", mm.Reason, "start_at", startAt(sc))
			default:
				return fmt.Errorf("%s: take over %s (%s): %w; fix it, or remove takeover to start without Promtail's positions (nothing was taken over)", where, e.Key, at(e), err)
			}
		}
		if !tailed {
			ignored++
			log.Info("no source tails this file of Promtail's positions; ignored", "entry", at(e), "path", e.Key)
		}
	}
	summary := fmt.Sprintf("%s: %d taken over, %d no longer the same file, %d gone, %d ignored", t.PromtailPositions, taken, mismatched, missing, ignored)
	if err := p.Takeover(takeoverName, summary, positions); err != nil {
		return fmt.Errorf("%s: %w (nothing was taken over)", where, err)
	}
	log.Info("Promtail's positions taken over; logcapturer never writes Promtail's file",
		"taken_over", taken, "not_same_file", mismatched, "gone", missing, "ignored", ignored)
	return nil
}

// errTakenElsewhere: the source has positions of its own already.
var errTakenElsewhere = errors.New("the source has positions of its own")

// takeoverDocker adds the position of container id's log for the first
// docker source that reads it (sources.FileConfig.TakeoverDocker). It
// returns an error wrapping fs.ErrNotExist when no source does.
func takeoverDocker(log *slog.Logger, cfg *config.Config, p *pipeline.Pipeline, positions map[string][]wal.Position,
	entry, id string, since, savedAt time.Time) error {
	for _, sc := range cfg.Sources {
		ts, ok := sc.Options.(dockerTakeover)
		if !ok {
			continue
		}
		pos, err := ts.TakeoverDocker(id, since, savedAt)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if len(p.SourcePositions(sc.Name)) > 0 {
			log.Warn("source has positions of its own already; Promtail's is not used", "entry", entry, "source", sc.Name, "container_id", id)
			return errTakenElsewhere
		}
		positions[sc.Name] = append(positions[sc.Name], pos)
		return nil
	}
	return fmt.Errorf("container %s: %w", id, fs.ErrNotExist)
}

// startAt names where a source reads a file without a position.
func startAt(sc config.Source) string {
	if fc, ok := sc.Options.(*sources.FileConfig); ok {
		return fc.StartAt
	}
	return ""
}
