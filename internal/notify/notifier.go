package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/rules"
)

// Options configure a Notifier.
type Options struct {
	// Outbox is the directory of the on-disk outbox (required).
	Outbox string
	// KibanaURL, when set, makes messages link to the alert in Kibana.
	KibanaURL string
	// FailAfter is how long a channel may keep failing before the other
	// channels are told; 10 minutes when zero.
	FailAfter time.Duration
	// Clock is the wall clock (time.Now when nil). It only paces retries
	// and moves the event clock on while no alerts come; everything else
	// runs on the alerts' own time.
	Clock func() time.Time
	// Logger hears of failed deliveries (redacted); slog.Default when nil.
	Logger *slog.Logger
	// MaxIncidents bounds the incidents remembered; the oldest are
	// forgotten beyond it (counted). 10,000 when zero.
	MaxIncidents int
	// Rules, when set, keep allowed and suppressed alerts from being
	// notified (counted in Stats.Suppressed) and override severities. The
	// daemon and analyze do not set it: rules.Mark applies the rules before
	// every sink, and an alert it marked with mlads.suppressed_by is never
	// notified, Rules or not.
	Rules *rules.Set
	// RetryInitial and RetryMax bound the wait between tries of a failing
	// channel; 1 s and 5 min when zero.
	RetryInitial, RetryMax time.Duration
}

// Notifier is the alert.Sink that notifies contacts. Write routes each
// alert and queues its messages, counting repeats of known incidents
// instead; Flush makes the queue and the noise control's state durable in
// the outbox; Deliver sends what is durable. Tick moves time on: digests,
// resolved notices. Run does Tick, Flush and Deliver in a loop.
//
// Write and Flush are called by the pipeline, Run on a goroutine of its
// own; a mutex makes that safe. No network call is made with it held.
type Notifier struct {
	mu     sync.Mutex
	c      *Contacts
	send   Senders
	opt    Options
	log    *slog.Logger
	red    redactor
	box    *outbox
	st     *state
	wallAt time.Time // wall time when st.Now last moved
	dirty  bool      // st changed since the last save
	chans  map[string]*channelState
	stats  Stats

	stamp  fileStamp  // of the contacts file, for Reload
	routes []*Route   // scratch for Match
	seen   []sentAddr // scratch for enqueue
}

// sentAddr is an address one alert's messages went to.
type sentAddr struct{ channel, to string }

// channelState follows one channel's failures.
type channelState struct {
	since   time.Time // wall time of the first failure in a row; zero when healthy
	next    time.Time // no try before this
	fails   int
	lastErr string
	alerted bool
	b       *backoff.ExponentialBackOff
}

// Stats counts what the notifier did. ChannelsFailing names the channels
// failing now, with the wall time they started to: sensor-health data.
type Stats struct {
	Alerts, Repeats, Duplicates, Held, Dropped  uint64
	Suppressed                                  uint64
	Queued, Sent, Failed, Digests, Resolved     uint64
	Evicted, ChannelFailureAlerts, Pending, Age uint64
	ChannelsFailing                             map[string]time.Time
}

// New opens the outbox in opts.Outbox and returns a Notifier for c that
// sends through send (NewSenders(c) in production).
func New(c *Contacts, send Senders, opts Options) (*Notifier, error) {
	if opts.Outbox == "" {
		return nil, fmt.Errorf("notify: no outbox directory")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.FailAfter <= 0 {
		opts.FailAfter = 10 * time.Minute
	}
	if opts.MaxIncidents <= 0 {
		opts.MaxIncidents = 10000
	}
	if opts.RetryInitial <= 0 {
		opts.RetryInitial = time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Minute
	}
	box, st, err := openOutbox(opts.Outbox)
	if err != nil {
		return nil, err
	}
	n := &Notifier{c: c, send: send, opt: opts, log: opts.Logger, red: redactor(c.secrets()), box: box, st: st,
		wallAt: opts.Clock(), chans: map[string]*channelState{}}
	if c.Path != "" {
		n.stamp, _ = stampOf(c.Path) // unreadable: the first Reload tells
	}
	return n, nil
}

// Close closes the outbox file. It does not flush: call Flush first.
func (n *Notifier) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.box.close()
}

// Stats returns the counters.
func (n *Notifier) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.stats
	s.Pending = uint64(len(n.st.Pending))
	s.ChannelsFailing = map[string]time.Time{}
	for via, ch := range n.chans {
		if !ch.since.IsZero() {
			s.ChannelsFailing[via] = ch.since
		}
	}
	return s
}

// Pending returns copies of the messages waiting in the outbox, oldest
// first.
func (n *Notifier) Pending() []Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]Message, len(n.st.Pending))
	for i, m := range n.st.Pending {
		out[i] = *m
	}
	return out
}

// now is the event clock: the latest alert time seen, moved on by the
// wall clock while no newer alert comes.
func (n *Notifier) now() time.Time {
	if d := n.opt.Clock().Sub(n.wallAt); d > 0 {
		return n.st.Now.Add(d)
	}
	return n.st.Now
}

// advance moves the event clock to t when t is later than it.
func (n *Notifier) advance(t time.Time) time.Time {
	cur := n.now()
	if t.After(cur) {
		cur = t
	}
	n.st.Now, n.wallAt = cur, n.opt.Clock()
	return cur
}

// Write routes docs and queues their messages (alert.Sink). Nothing is
// sent before the next Flush has made the messages durable.
func (n *Notifier) Write(_ context.Context, docs []*alert.Alert) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range docs {
		n.observe(a)
	}
	return false, nil
}

// Flush writes the outbox and the noise control's state to disk, synced
// (alert.Sink). Messages queued so far may be sent from then on.
func (n *Notifier) Flush(context.Context) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.flushLocked(); err != nil {
		return true, err
	}
	return false, nil
}

func (n *Notifier) flushLocked() error {
	if !n.dirty {
		return nil
	}
	if err := n.box.save(n.st); err != nil {
		return err
	}
	for _, m := range n.st.Pending {
		m.durable = true
	}
	n.dirty = false
	return nil
}

func (n *Notifier) observe(a *alert.Alert) {
	id := a.ID()
	count, first, last := 1, a.Timestamp, a.Timestamp
	if a.Event.End.After(last) {
		last = a.Event.End
	}
	if in := a.MLADS.Incident; in != nil {
		count, first = max(in.Count, 1), in.FirstSeen
		if in.LastSeen.After(last) {
			last = in.LastSeen
		}
	}
	now := n.advance(last)
	n.dirty = true
	if inc := n.st.Incidents[id]; inc != nil {
		if count <= inc.Count && !last.After(inc.Last) {
			n.stats.Duplicates++ // handed again after a restart, or re-sent unchanged
			return
		}
		delta := max(count-inc.Count, 0)
		inc.Count = max(count, inc.Count)
		if last.After(inc.Last) {
			inc.Last = last
		}
		inc.Summary = a.MLADS.Summary
		inc.Resolved = false
		n.stats.Repeats += uint64(delta)
		for _, tk := range inc.Targets {
			if t := n.st.Targets[tk]; t != nil && delta > 0 {
				t.Repeats[id] += delta
				if t.Since.IsZero() {
					t.Since = now
				}
			}
		}
		n.threadReplies(inc, now)
		return
	}

	if a.MLADS.SuppressedBy != "" { // marked by the rules stage (rules.Mark) upstream
		n.stats.Suppressed++
		return
	}
	d := n.opt.Rules.Apply(a)
	if d.SuppressedBy != "" {
		n.stats.Suppressed++
		return
	}
	n.stats.Alerts++
	sev := a.Event.Severity
	if d.Severity > 0 {
		b := *a // routed, rendered and recorded at the rule's severity
		b.Event.Severity, b.MLADS.Severity = d.Severity, strings.ToLower(severityName(d.Severity))
		a, sev = &b, d.Severity
	}
	inc := &incident{ID: id, Detector: a.MLADS.Detector, Host: a.MLADS.Host, Summary: a.MLADS.Summary,
		Severity: sev, First: first, Last: last, Count: count}
	n.st.Incidents[id] = inc
	n.routes = n.c.Match(n.routes[:0], a)
	var kinds Kinds
	for _, r := range n.routes {
		kinds |= r.Channels
	}
	var rc *rendered
	seen := n.seen[:0]
	defer func() { n.seen = seen[:0] }()
	for _, r := range n.routes {
		if r.ResolveAfter > 0 && (inc.Resolve == 0 || r.ResolveAfter < inc.Resolve) {
			inc.Resolve = r.ResolveAfter
		}
		if inc.RepeatEvery == 0 || r.RepeatInterval < inc.RepeatEvery {
			inc.RepeatEvery = r.RepeatInterval
		}
		for _, ct := range r.People {
			tk, t := n.target(r, ct)
			inc.Targets = append(inc.Targets, tk)
			why := ""
			switch {
			case ct.Schedule.Quiet(now, sev) || r.Schedule.Quiet(now, sev):
				why = "quiet hours"
			case r.ThrottleMax > 0 && t.sentWithin(now, r.ThrottlePer) >= r.ThrottleMax:
				why = "throttled"
			}
			if why != "" {
				n.stats.Held++
				t.hold(held{Incident: id, Severity: sev, Title: severityName(sev) + ": " + a.MLADS.Detector + " by " + a.MLADS.Host,
					Summary: a.MLADS.Summary, When: first, Why: why}, now)
				continue
			}
			t.sent(now, r.ThrottleMax)
			inc.Told = append(inc.Told, tk)
			if rc == nil {
				c := alertContent(a, n.opt.KibanaURL)
				r := c.render(kinds)
				rc = &r
			}
			seen = n.enqueue(ct, r, KindAlert, id, strconv.Itoa(count), rc, seen, sev, now)
		}
	}
	if len(n.st.Incidents) > n.opt.MaxIncidents {
		n.forget(now)
	}
}

// target returns the state of contact ct on route r, made when new.
func (n *Notifier) target(r *Route, ct *Contact) (string, *target) {
	tk := strconv.Itoa(r.Index) + "|" + ct.Name
	t := n.st.Targets[tk]
	if t == nil {
		t = &target{Route: r.Index, Contact: ct.Name, Repeats: map[string]int{}}
		n.st.Targets[tk] = t
	}
	return tk, t
}

// route returns the route a target was made for; the default route when
// the contacts file changed under it.
func (n *Notifier) route(t *target) *Route {
	if t.Route < len(n.c.Routes) {
		return n.c.Routes[t.Route]
	}
	return n.c.Default
}

// enqueue queues rc for every address of ct that route r's channels
// reach, once per address in seen (which it returns, grown) and once per
// key ever.
func (n *Notifier) enqueue(ct *Contact, r *Route, kind, incident, seq string, rc *rendered, seen []sentAddr, sev int, now time.Time) []sentAddr {
	kinds := AllKinds
	route := ""
	if r != nil {
		kinds, route = r.Channels, r.Name
	}
	add := func(channel, via, to string) {
		if slices.Contains(seen, sentAddr{channel, to}) {
			return
		}
		seen = append(seen, sentAddr{channel, to})
		m := &Message{Kind: kind, Channel: channel, Via: via, To: to, Contact: ct.Name, Route: route,
			Incident: incident, Severity: sev, Subject: rc.subject, Created: now}
		switch channel {
		case "email":
			m.Text, m.HTML = rc.text, rc.html
		case "sms":
			m.Text = rc.sms
		case "slack":
			m.Text, m.Blocks = rc.text, rc.blocks
		}
		m.Key = messageKey(kind, incident, seq, channel, to)
		n.queue(m)
	}
	if kinds.Has(KindEmail) {
		for _, e := range ct.Email {
			add("email", "smtp", e)
		}
	}
	if kinds.Has(KindSMS) && rc.sms != "" {
		for _, p := range ct.Phone {
			add("sms", ct.SMSVia, p)
		}
	}
	if kinds.Has(KindSlack) {
		for _, s := range ct.Slack {
			via := "bot"
			if strings.HasPrefix(s, "webhook:") {
				via = "webhook"
			}
			add("slack", via, s)
		}
	}
	return seen
}

// queue adds m unless a message with its key is pending or was sent.
func (n *Notifier) queue(m *Message) {
	if n.st.pendingKeys[m.Key] {
		n.stats.Duplicates++
		return
	}
	if _, done := n.st.Done[m.Key]; done {
		n.stats.Duplicates++
		return
	}
	n.st.Pending = append(n.st.Pending, m)
	n.st.pendingKeys[m.Key] = true
	n.stats.Queued++
	n.dirty = true
}

// threadReplies tells the Slack threads of inc of its repeats, at most
// once per inc.RepeatEvery.
func (n *Notifier) threadReplies(inc *incident, now time.Time) {
	if inc.Count <= inc.Replied || (!inc.RepliedAt.IsZero() && now.Sub(inc.RepliedAt) < inc.RepeatEvery) {
		return
	}
	var rc *rendered
	for _, tk := range inc.Told {
		t := n.st.Targets[tk]
		ct := n.c.People[t.Contact]
		r := n.route(t)
		if ct == nil || r == nil || !r.Channels.Has(KindSlack) {
			continue
		}
		for _, s := range ct.Slack {
			if strings.HasPrefix(s, "webhook:") {
				continue // no threads: the digest counts them
			}
			if rc == nil {
				c := repeatContent(inc)
				r := c.render(KindSlack)
				rc = &r
			}
			m := &Message{Kind: KindRepeat, Channel: "slack", Via: "bot", To: s, Contact: ct.Name, Route: r.Name,
				Incident: inc.ID, Severity: inc.Severity, Subject: rc.subject, Text: rc.text, Blocks: rc.blocks, Created: now}
			m.Key = messageKey(KindRepeat, inc.ID, strconv.Itoa(inc.Count), "slack", s)
			n.queue(m)
		}
	}
	if rc != nil {
		inc.Replied, inc.RepliedAt = inc.Count, now
	}
}

// Tick moves time on to the event clock's now: digests whose interval has
// passed (outside quiet hours) and resolved notices for incidents quiet
// long enough are queued; old incidents are forgotten.
func (n *Notifier) Tick() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.tick(n.now())
}

func (n *Notifier) tick(now time.Time) {
	for _, tk := range slices.Sorted(mapKeys(n.st.Targets)) {
		t := n.st.Targets[tk]
		r := n.route(t)
		ct := n.c.People[t.Contact]
		if !t.waiting() || r == nil || ct == nil || now.Before(t.Since.Add(r.Digest)) {
			continue
		}
		sev := 0
		for _, h := range t.Held {
			sev = max(sev, h.Severity)
		}
		if ct.Schedule.Quiet(now, sev) || r.Schedule.Quiet(now, sev) {
			continue
		}
		t.Seq++
		c := n.digestContent(t, r)
		dr := &Route{Name: r.Name, Channels: quietKinds(r.Channels)}
		rc := c.render(dr.Channels)
		n.enqueue(ct, dr, KindDigest, tk, strconv.Itoa(t.Seq)+"|"+now.UTC().Format(time.RFC3339), &rc, nil, sev, now)
		n.stats.Digests++
		t.Held, t.Dropped, t.Since = nil, 0, time.Time{}
		clear(t.Repeats)
		n.dirty = true
	}
	for _, id := range slices.Sorted(mapKeys(n.st.Incidents)) {
		inc := n.st.Incidents[id]
		if inc.Resolved || inc.Resolve <= 0 || len(inc.Told) == 0 || now.Before(inc.Last.Add(inc.Resolve)) {
			continue
		}
		inc.Resolved = true
		n.stats.Resolved++
		n.dirty = true
		c := resolvedContent(inc, now)
		for _, tk := range inc.Told {
			t := n.st.Targets[tk]
			r := n.route(t)
			ct := n.c.People[t.Contact]
			if ct == nil || r == nil {
				continue
			}
			rr := &Route{Name: r.Name, Channels: quietKinds(r.Channels)}
			rc := c.render(rr.Channels)
			n.enqueue(ct, rr, KindResolved, id, strconv.Itoa(inc.Count), &rc, nil, inc.Severity, now)
		}
	}
	n.forget(now)
}

// quietKinds are the channels for digests and resolved notices: SMS
// pages, so it carries them only on a route that has nothing else.
func quietKinds(k Kinds) Kinds {
	if q := k &^ KindSMS; q != 0 {
		return q
	}
	return k
}

// forget drops incidents a day past their last alert (resolved ones, and
// ones no route told anyone of, after their resolve time), then the oldest
// beyond MaxIncidents, and delivered keys older than a week of wall time.
func (n *Notifier) forget(now time.Time) {
	for id, inc := range n.st.Incidents {
		if now.Sub(inc.Last) > 24*time.Hour {
			delete(n.st.Incidents, id)
			n.dirty = true
		}
	}
	if over := len(n.st.Incidents) - n.opt.MaxIncidents; over > 0 {
		over += n.opt.MaxIncidents / 10 // room, so the sort is not made for every alert
		all := make([]*incident, 0, len(n.st.Incidents))
		for _, inc := range n.st.Incidents {
			all = append(all, inc)
		}
		slices.SortFunc(all, func(a, b *incident) int { return a.Last.Compare(b.Last) })
		for _, inc := range all[:over] {
			delete(n.st.Incidents, inc.ID)
			n.stats.Evicted++
		}
	}
	if len(n.st.Done) > 100000 {
		cut := n.opt.Clock().Add(-7 * 24 * time.Hour)
		for k, at := range n.st.Done {
			if at.Before(cut) {
				delete(n.st.Done, k)
			}
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Deliver sends the durable pending messages, oldest first, skipping the
// channels that wait after a failure and the thread replies whose thread
// is not open yet. It returns how many went out; it stops early when ctx
// ends.
func (n *Notifier) Deliver(ctx context.Context) int {
	sent := 0
	skip := map[string]bool{}
	for ctx.Err() == nil {
		n.mu.Lock()
		m, thread := n.next(skip)
		var s Sender
		if m != nil {
			s = n.send[m.Via]
		}
		n.mu.Unlock()
		if m == nil {
			return sent
		}
		var receipt string
		var err error
		if s == nil {
			err = &SendError{Channel: m.Channel, Err: fmt.Errorf("channel %s is not configured", m.Via)}
		} else {
			receipt, err = s.Send(ctx, m, thread)
		}
		n.mu.Lock()
		if err == nil {
			sent++
			n.delivered(m, receipt)
		} else {
			n.failed(m, n.red.Error(err), skip)
		}
		n.mu.Unlock()
	}
	return sent
}

// next picks the next message to send, and the thread it replies in.
func (n *Notifier) next(skip map[string]bool) (*Message, string) {
	wall := n.opt.Clock()
	for _, m := range n.st.Pending {
		if !m.durable || skip[m.Key] {
			continue
		}
		if ch := n.chans[m.Via]; ch != nil && wall.Before(ch.next) {
			continue
		}
		thread := ""
		if m.threaded() {
			thread = n.st.Threads[threadKey(m.Incident, m.To)]
			if thread == "" && slices.ContainsFunc(n.st.Pending, func(p *Message) bool {
				return p.Kind == KindAlert && p.Incident == m.Incident && p.To == m.To && p.Channel == "slack"
			}) {
				continue // its thread opens when the alert goes
			}
		}
		cp := *m
		return &cp, thread
	}
	return nil, ""
}

func (n *Notifier) delivered(m *Message, receipt string) {
	l := sentLine{Key: m.Key, At: n.opt.Clock()}
	if m.Kind == KindAlert && m.Via == "bot" && receipt != "" {
		l.Thread, l.TS = threadKey(m.Incident, m.To), receipt
	}
	if err := n.box.markSent(l); err != nil {
		n.log.Error("outbox: recording a sent message failed; it may be sent again after a restart", "err", err)
	}
	n.st.applySent(l)
	n.stats.Sent++
	n.dirty = true
	if ch := n.chans[m.Via]; ch != nil && !ch.since.IsZero() {
		n.log.Info("channel works again", "channel", m.Via, "failed_for", l.At.Sub(ch.since).Round(time.Second), "tries", ch.fails)
		ch.since, ch.fails, ch.alerted, ch.next = time.Time{}, 0, false, time.Time{}
		ch.b.Reset()
	}
}

func (n *Notifier) failed(m *Message, err error, skip map[string]bool) {
	retry, after := retryable(err)
	wall := n.opt.Clock()
	ch := n.chans[m.Via]
	if ch == nil {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval, b.MaxInterval = n.opt.RetryInitial, n.opt.RetryMax
		ch = &channelState{b: b}
		n.chans[m.Via] = ch
	}
	ch.fails++
	ch.lastErr = err.Error()
	if ch.since.IsZero() {
		ch.since = wall
	}
	if !retry {
		n.log.Error("notification failed for good", "channel", m.Via, "to", m.To, "kind", m.Kind, "err", err)
		n.stats.Failed++
		l := sentLine{Key: m.Key, At: wall, Failed: true}
		if merr := n.box.markSent(l); merr != nil {
			n.log.Error("outbox: recording a failed message failed", "err", merr)
		}
		n.st.applySent(l)
		n.dirty = true
		skip[m.Key] = true
	} else {
		wait := ch.b.NextBackOff()
		if after > wait {
			wait = after
		}
		ch.next = wall.Add(wait)
		n.log.Warn("notification failed; will retry", "channel", m.Via, "to", m.To, "kind", m.Kind, "err", err,
			"wait", wait.Round(time.Millisecond), "tries", ch.fails)
	}
	if !ch.alerted && wall.Sub(ch.since) >= n.opt.FailAfter {
		ch.alerted = true
		n.channelFailure(m.Via, ch, wall)
	}
}

// viaKinds says which deliveries share the failing one's path: SMS
// through a gateway is email.
func sharesPath(failing, via string) bool {
	if failing == via {
		return true
	}
	return (failing == "smtp" && via == "gateway") || (failing == "gateway" && via == "smtp")
}

// channelFailure tells the channel-failure contacts, by every other
// channel, that via has been failing since ch.since.
func (n *Notifier) channelFailure(via string, ch *channelState, wall time.Time) {
	n.stats.ChannelFailureAlerts++
	waiting := 0
	for _, p := range n.st.Pending {
		if p.Via == via {
			waiting++
		}
	}
	c := content{
		subject: "[mlads] the " + via + " channel is failing",
		title:   "mlads cannot deliver through " + via,
		summary: fmt.Sprintf("Deliveries through %s have failed since %s (%d tries). %d messages wait in the outbox and will go out when it works again.",
			via, ch.since.UTC().Format(stamp), ch.fails, waiting),
		fields: [][2]string{{"Last error", ch.lastErr}},
		footer: "channel failure",
	}
	c.sms = "mlads: " + via + " failing since " + ch.since.UTC().Format("Jan 2 15:04Z") + ", " + strconv.Itoa(waiting) + " waiting"
	rc := c.render(AllKinds)
	now := n.now()
	for _, ct := range n.c.ChannelFailure {
		m := ct
		// every address of the contact, except through the failing path
		before := len(n.st.Pending)
		n.enqueue(m, nil, KindChannelFailure, via, ch.since.UTC().Format(time.RFC3339), &rc, nil, 4, now)
		kept := n.st.Pending[:before]
		for _, p := range n.st.Pending[before:] {
			if sharesPath(via, p.Via) {
				delete(n.st.pendingKeys, p.Key)
				continue
			}
			kept = append(kept, p)
		}
		n.st.Pending = kept
	}
	n.log.Error("channel keeps failing; told the channel-failure contacts through the others", "channel", via, "since", ch.since, "tries", ch.fails)
	if err := n.flushLocked(); err != nil {
		n.log.Error("outbox: saving the channel-failure alert failed", "err", err)
	}
}

// Run ticks, flushes and delivers every interval until ctx ends, then
// flushes once more. It is the notifier's delivery loop; the pipeline only
// writes and flushes. When getenv is not nil, it also reloads the contacts
// file when it changes (Reload), keeping the last good one on an error.
func (n *Notifier) Run(ctx context.Context, interval time.Duration, getenv func(string) (string, bool)) error {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if getenv != nil {
			if ok, err := n.Reload(getenv); err != nil {
				n.log.Error("contacts file refused; the last good one stays in force", "err", err)
			} else if ok {
				n.log.Info("contacts file reloaded", "path", n.contactsPath())
			}
		}
		n.Tick()
		n.mu.Lock()
		err := n.flushLocked()
		n.mu.Unlock()
		if err != nil {
			n.log.Error("outbox: flush failed", "err", err)
		}
		n.Deliver(ctx)
		select {
		case <-ctx.Done():
			n.mu.Lock()
			defer n.mu.Unlock()
			return n.flushLocked()
		case <-t.C:
		}
	}
}

func (n *Notifier) contactsPath() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c.Path
}

// Drain delivers until nothing durable is pending or ctx ends, flushing
// first; it returns how many messages are still pending.
func (n *Notifier) Drain(ctx context.Context) int {
	for {
		n.Tick()
		n.mu.Lock()
		if err := n.flushLocked(); err != nil {
			n.log.Error("outbox: flush failed", "err", err)
		}
		left := len(n.st.Pending)
		wait := time.Duration(0)
		wall := n.opt.Clock()
		for _, ch := range n.chans {
			if ch.next.After(wall) && (wait == 0 || ch.next.Sub(wall) < wait) {
				wait = ch.next.Sub(wall)
			}
		}
		n.mu.Unlock()
		if left == 0 {
			return 0
		}
		if n.Deliver(ctx) > 0 {
			continue
		}
		if wait == 0 {
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			n.mu.Lock()
			defer n.mu.Unlock()
			if err := n.flushLocked(); err != nil {
				n.log.Error("outbox: flush failed", "err", err)
			}
			return len(n.st.Pending)
		case <-time.After(wait):
		}
	}
}
