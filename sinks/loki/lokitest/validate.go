package lokitest

import (
	"slices"
	"strings"
	"time"
)

// Limits make a Receiver answer as a real Loki's distributor does when
// entries break its per-entry limits: each entry is checked as
// Validator.ValidateEntry checks it (pkg/distributor/validator.go: too old,
// then too new, then line too long; the first failing check is the entry's
// only error), the valid entries are stored, and when any entry was
// refused the push is answered 400 with the messages grouped as
// util.GroupedErrors does (Grouped) — a partial success, with no "total
// ignored" line (pkg/distributor/distributor.go, pushWithResolver).
type Limits struct {
	// RejectOldSamplesMaxAge refuses entries before Now() minus it
	// (reject_old_samples_max_age; Loki's default is 7d). Zero: off.
	RejectOldSamplesMaxAge time.Duration
	// CreationGracePeriod refuses entries after Now() plus it
	// (creation_grace_period; Loki's default is 10m). Zero: off.
	CreationGracePeriod time.Duration
	// MaxLineSize refuses longer lines (max_line_size; Loki's default is
	// 256KB). Zero: off.
	MaxLineSize int
	// Now is Loki's clock (default time.Now), read once per push as Loki
	// does.
	Now func() time.Time
}

// discoverServiceName is Loki's default discover_service_name list
// (pkg/validation/limits.go, RegisterFlags): if a stream has no
// service_name, the first of these labels it has gives it one, else
// "unknown_service" (pkg/loghttp/push/otlplabels ServiceUnknown).
var discoverServiceName = []string{"service", "app", "application", "app_name", "name",
	"app_kubernetes_io_name", "container", "container_name", "k8s_container_name", "component",
	"workload", "job", "k8s_job_name"}

// ServiceName returns the stream as Loki names it in messages: the
// selector's labels plus the service_name Loki discovers, printed as
// labels.Labels prints ({a="b", c="d"}, sorted). A selector that does not
// parse is returned as it is.
func ServiceName(selector string) string {
	ls, err := ParseLabels(selector)
	if err != nil {
		return selector
	}
	for _, l := range ls {
		if l.Name == "service_name" {
			return Labels(ls...)
		}
	}
	svc := "unknown_service"
	for _, name := range discoverServiceName {
		if i := slices.IndexFunc(ls, func(l Label) bool { return l.Name == name }); i >= 0 {
			svc = ls[i].Value
			break
		}
	}
	ls = append(ls, Label{"service_name", svc})
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return Labels(ls...)
}

// validate splits entries into those Loki stores and the messages for the
// others, with the refused entries.
func (l *Limits) validate(entries []Entry) (kept, refused []Entry, msgs []string) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	oldest := now.Add(-l.RejectOldSamplesMaxAge).UnixNano()
	newest := now.Add(l.CreationGracePeriod).UnixNano()
	names := map[string]string{}
	for _, e := range entries {
		stream, ok := names[e.Labels]
		if !ok {
			stream = ServiceName(e.Labels)
			names[e.Labels] = stream
		}
		ts := time.Unix(0, e.Time).UTC()
		var msg string
		switch {
		case l.RejectOldSamplesMaxAge > 0 && e.Time < oldest:
			msg = TooOldMessage(stream, ts, time.Unix(0, oldest).UTC())
		case l.CreationGracePeriod > 0 && e.Time > newest:
			msg = TooNewMessage(stream, ts)
		case l.MaxLineSize > 0 && len(e.Line) > l.MaxLineSize:
			msg = LineTooLongMessage(stream, l.MaxLineSize, len(e.Line))
		default:
			kept = append(kept, e)
			continue
		}
		refused = append(refused, e)
		msgs = append(msgs, msg)
	}
	return kept, refused, msgs
}
