package loki

import (
	"context"
	"errors"
	"fmt"

	"github.com/logcapturer/logcapturer/sinks"
	"github.com/logcapturer/logcapturer/wal"
)

// sendTenants pushes a batch whose entries belong to several tenants, one
// request per tenant, in turn, and merges the outcomes (see the package
// documentation, Tenants):
//
//   - all delivered: nil;
//   - a push failed retryably or for credentials: that error, at once (the
//     remaining tenants are not tried; Loki is likely down for them too):
//     the whole batch is sent again later, and Loki drops the entries it
//     already holds as exact duplicates;
//   - otherwise, one or more pushes failed permanently: a *sinks.Permanent
//     whose Refused lists exactly those tenants' refused entries (the
//     entries Loki's 400 names, when it names them, else all of the
//     tenant's), since every other entry was delivered.
func (s *Sink) sendTenants(ctx context.Context, b *sinks.Batch, pushes []Push) error {
	var (
		failed []string // tenants refused permanently
		errs   []error
		perm   *sinks.Permanent
	)
	for _, p := range pushes {
		err := s.pushTenant(ctx, p)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return err
		}
		var pe *sinks.Permanent
		if !errors.As(err, &pe) {
			return fmt.Errorf("push of tenant %q (%d of %d tenants): %w", p.Tenant, len(failed)+1, len(pushes), err)
		}
		// Narrow this tenant's refusal to the entries Loki named, if it
		// named them.
		tenant := p.Tenant
		s.partial(b, err, func(blk, e int) bool { return s.tenantOf(&b.Blocks[blk], &b.Blocks[blk].Entries[e]) == tenant })
		if perm == nil {
			perm = &sinks.Permanent{Reason: pe.Reason}
		}
		failed = append(failed, tenant)
		errs = append(errs, fmt.Errorf("tenant %q: %w", tenant, err))
		if pe.Refused != nil {
			perm.Refused = mergeSpans(perm.Refused, pe.Refused)
		} else {
			perm.Refused = mergeSpans(perm.Refused, s.tenantSpans(b, tenant))
		}
	}
	if perm == nil {
		return nil
	}
	perm.Err = errors.Join(errs...)
	for _, sp := range perm.Refused {
		perm.Rejected += sp.Count
	}
	if perm.Rejected == b.Entries {
		perm.Refused, perm.Rejected = nil, 0 // the whole batch
	}
	return perm
}

// tenantOf returns the tenant an entry is pushed for: the value of its
// wal.TenantLabel (its own labels, else its block's), else the sink's
// TenantID. It agrees with labelSet.build.
func (s *Sink) tenantOf(blk *wal.Block, e *wal.Entry) string {
	ls := e.Labels
	if ls == nil {
		ls = blk.Labels
	}
	t := s.opts.TenantID
	for _, l := range ls {
		if l.Name == wal.TenantLabel && l.Value != "" {
			t = SanitizeValue(l.Value)
		}
	}
	return t
}

// tenantSpans returns the spans of b's entries of tenant.
func (s *Sink) tenantSpans(b *sinks.Batch, tenant string) []sinks.Span {
	var spans []sinks.Span
	for bi := range b.Blocks {
		blk := &b.Blocks[bi]
		for ei := range blk.Entries {
			if s.tenantOf(blk, &blk.Entries[ei]) == tenant {
				spans = sinks.AppendSpan(spans, bi, ei)
			}
		}
	}
	return spans
}

// mergeSpans returns the union of two span lists of distinct entries, in
// Blocks order.
func mergeSpans(a, b []sinks.Span) []sinks.Span {
	if len(a) == 0 {
		return b
	}
	var out []sinks.Span
	i, j := 0, 0
	add := func(sp sinks.Span) {
		for k := range sp.Count {
			out = sinks.AppendSpan(out, sp.Block, sp.First+k)
		}
	}
	for i < len(a) || j < len(b) {
		if j == len(b) || i < len(a) && (a[i].Block < b[j].Block || a[i].Block == b[j].Block && a[i].First < b[j].First) {
			add(a[i])
			i++
		} else {
			add(b[j])
			j++
		}
	}
	return out
}

// validTenant reports whether t can be sent as X-Scope-OrgID: "" (none), or
// at most 150 of a-z A-Z 0-9 ! - _ . * ' ( ), and not "." or ".." (the
// tenant ids Loki accepts, dskit's tenant.ValidTenantID).
func validTenant(t string) bool {
	if len(t) > 150 || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '!', c == '-', c == '_', c == '.', c == '*', c == '\'', c == '(', c == ')':
		default:
			return false
		}
	}
	return true
}
