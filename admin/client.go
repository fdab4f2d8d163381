package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logcapturer/logcapturer/pipeline"
)

// Client talks to a Server: the CLI's inspection commands use it. Safe
// for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client of the server at addr (host:port, or a URL)
// sending token (if not "") as a bearer token.
func NewClient(addr, token string, timeout time.Duration) *Client {
	base := strings.TrimRight(addr, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{base: base, token: token, http: &http.Client{Timeout: timeout}}
}

// APIError is an answer other than 2xx: the status and the server's
// message.
type APIError struct {
	StatusCode int
	Message    string
	Known      []string             // for 404s of unknown sinks
	Range      *pipeline.RangeError // for 409s: the WAL's retained range (What is empty)
}

func (e *APIError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.StatusCode) }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("admin request %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			err = ue.Err // its text repeats the URL
		}
		return fmt.Errorf("reach the admin API at %s (is logcapturer running? --addr, or --data-dir when it is stopped): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb errorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		ae := &APIError{StatusCode: resp.StatusCode, Message: eb.Error, Known: eb.Known}
		if r := eb.Range; r != nil {
			ae.Range = &pipeline.RangeError{After: r.After, FirstIndex: r.FirstIndex, LastIndex: r.LastIndex, FirstTime: r.FirstTime, LastTime: r.LastTime}
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// Status is GET /api/v1/status.
func (c *Client) Status(ctx context.Context) (pipeline.Status, error) {
	var st pipeline.Status
	err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &st)
	return st, err
}

// Sink is GET /api/v1/sinks/{name}.
func (c *Client) Sink(ctx context.Context, name string) (pipeline.SinkStatus, error) {
	var st pipeline.SinkStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/sinks/"+url.PathEscape(name), nil, &st)
	return st, err
}

// Sinks is GET /api/v1/sinks.
func (c *Client) Sinks(ctx context.Context) ([]pipeline.SinkStatus, error) {
	var out struct {
		Sinks []pipeline.SinkStatus `json:"sinks"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/sinks", nil, &out)
	return out.Sinks, err
}

// Sources is GET /api/v1/sources.
func (c *Client) Sources(ctx context.Context) ([]pipeline.SourceStatus, error) {
	var out struct {
		Sources []pipeline.SourceStatus `json:"sources"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/sources", nil, &out)
	return out.Sources, err
}

// DLQ is GET /api/v1/dlq[?sink=NAME].
func (c *Client) DLQ(ctx context.Context, sink string) ([]pipeline.DeadLetter, error) {
	var out struct {
		DeadLetters []pipeline.DeadLetter `json:"dead_letters"`
	}
	path := "/api/v1/dlq"
	if sink != "" {
		path += "?sink=" + url.QueryEscape(sink)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.DeadLetters, err
}

// DLQEntries is GET /api/v1/dlq/{sink}/{from}?limit=K.
func (c *Client) DLQEntries(ctx context.Context, sink string, from uint64, limit int) (pipeline.DeadLetter, []pipeline.Entry, error) {
	var out struct {
		DeadLetter pipeline.DeadLetter `json:"dead_letter"`
		Entries    []pipeline.Entry    `json:"entries"`
	}
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/dlq/%s/%d?limit=%d", url.PathEscape(sink), from, limit), nil, &out)
	return out.DeadLetter, out.Entries, err
}

// ReplayDLQ is POST /api/v1/dlq/{sink}/{from}/replay, or
// /api/v1/dlq/{sink}/replay when from is 0.
func (c *Client) ReplayDLQ(ctx context.Context, sink string, from uint64) (int, error) {
	path := fmt.Sprintf("/api/v1/dlq/%s/%d/replay", url.PathEscape(sink), from)
	if from == 0 {
		path = fmt.Sprintf("/api/v1/dlq/%s/replay", url.PathEscape(sink))
	}
	var out struct {
		Replayed int `json:"replayed"`
	}
	err := c.do(ctx, http.MethodPost, path, nil, &out)
	return out.Replayed, err
}

// PurgeDLQ is DELETE /api/v1/dlq/{sink}/{from}.
func (c *Client) PurgeDLQ(ctx context.Context, sink string, from uint64) (int, error) {
	var out struct {
		Purged int `json:"purged"`
	}
	err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/api/v1/dlq/%s/%d", url.PathEscape(sink), from), nil, &out)
	return out.Purged, err
}

// WALEntries is GET /api/v1/wal/entries?from=N&limit=K.
func (c *Client) WALEntries(ctx context.Context, from uint64, limit int) ([]pipeline.Entry, error) {
	return c.walEntries(ctx, "from="+strconv.FormatUint(from, 10), limit)
}

// WALEntriesAt is GET /api/v1/wal/entries?time=T&limit=K.
func (c *Client) WALEntriesAt(ctx context.Context, t time.Time, limit int) ([]pipeline.Entry, error) {
	return c.walEntries(ctx, "time="+url.QueryEscape(t.Format(time.RFC3339Nano)), limit)
}

func (c *Client) walEntries(ctx context.Context, q string, limit int) ([]pipeline.Entry, error) {
	var out struct {
		Entries []pipeline.Entry `json:"entries"`
	}
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/wal/entries?%s&limit=%d", q, limit), nil, &out)
	return out.Entries, err
}

// RewindToIndex is POST /api/v1/sinks/{name}/rewind {"index": N}.
func (c *Client) RewindToIndex(ctx context.Context, sink string, index uint64) (pipeline.RewindResult, error) {
	var out pipeline.RewindResult
	err := c.do(ctx, http.MethodPost, "/api/v1/sinks/"+url.PathEscape(sink)+"/rewind", map[string]uint64{"index": index}, &out)
	return out, err
}

// RewindToTime is POST /api/v1/sinks/{name}/rewind {"time": T}.
func (c *Client) RewindToTime(ctx context.Context, sink string, t time.Time) (pipeline.RewindResult, error) {
	var out pipeline.RewindResult
	err := c.do(ctx, http.MethodPost, "/api/v1/sinks/"+url.PathEscape(sink)+"/rewind", map[string]string{"time": t.Format(time.RFC3339Nano)}, &out)
	return out, err
}

// RewindToOldest is POST /api/v1/sinks/{name}/rewind {"to": "oldest"}.
func (c *Client) RewindToOldest(ctx context.Context, sink string) (pipeline.RewindResult, error) {
	var out pipeline.RewindResult
	err := c.do(ctx, http.MethodPost, "/api/v1/sinks/"+url.PathEscape(sink)+"/rewind", map[string]string{"to": "oldest"}, &out)
	return out, err
}

// RewindToNewest is POST /api/v1/sinks/{name}/rewind {"to": "newest"}.
func (c *Client) RewindToNewest(ctx context.Context, sink string) (pipeline.RewindResult, error) {
	var out pipeline.RewindResult
	err := c.do(ctx, http.MethodPost, "/api/v1/sinks/"+url.PathEscape(sink)+"/rewind", map[string]string{"to": "newest"}, &out)
	return out, err
}
