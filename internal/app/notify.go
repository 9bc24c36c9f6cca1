package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mlads/mlads/internal/alert"
	"github.com/mlads/mlads/internal/config"
	"github.com/mlads/mlads/internal/notify"
	"github.com/mlads/mlads/internal/rules"
)

// NotifySink builds the contacts' sink from cfg.Notify: the contacts file
// is loaded and checked (secrets from the environment), the outbox opened,
// and the delivery loop started on a goroutine of its own. It returns nil
// sink and closer when notify.contacts is unset.
//
// The sink's Write queues, Flush makes the queue durable in the outbox
// (call it before saving read positions); delivery happens on the loop.
// Close stops the loop and then waits up to notify.drain_timeout for what
// is pending to go out; what is left stays in the outbox for the next
// start. The sink is a *notify.Notifier, whose Stats give the sensor-health
// data (channels failing, messages pending).
func NotifySink(cfg config.Config, log *slog.Logger) (alert.Sink, io.Closer, error) {
	nc := cfg.Notify
	if nc.Contacts == "" {
		return nil, nil, nil
	}
	log = log.With("component", "notify")
	c, err := notify.Load(nc.Contacts, os.LookupEnv)
	if err != nil {
		return nil, nil, err
	}
	send, err := notify.NewSenders(c)
	if err != nil {
		return nil, nil, err
	}
	// the rules are applied before every sink (rules.Mark): the notifier
	// skips what they marked suppressed
	n, err := notify.New(c, send, notify.Options{Outbox: nc.Outbox, KibanaURL: nc.KibanaURL, FailAfter: nc.FailAfter, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, 500*time.Millisecond, os.LookupEnv) }()
	pending := len(n.Pending())
	log.Info("notifying contacts", "contacts", nc.Contacts, "people", len(c.People), "routes", len(c.Routes)+1,
		"outbox", nc.Outbox, "pending", pending)
	return n, &notifyCloser{n: n, cancel: cancel, done: done, drain: nc.DrainTimeout, log: log}, nil
}

type notifyCloser struct {
	n      *notify.Notifier
	cancel context.CancelFunc
	done   chan error
	drain  time.Duration
	log    *slog.Logger
}

func (c *notifyCloser) Close() error {
	c.cancel()
	err := <-c.done
	ctx, cancel := context.WithTimeout(context.Background(), c.drain)
	defer cancel()
	left := c.n.Drain(ctx)
	st := c.n.Stats()
	c.log.Info("notify summary", "alerts", st.Alerts, "repeats", st.Repeats, "held", st.Held, "queued", st.Queued,
		"sent", st.Sent, "failed", st.Failed, "digests", st.Digests, "resolved", st.Resolved, "pending", left)
	if left > 0 {
		c.log.Warn("notifications still pending; they stay in the outbox for the next start", "pending", left)
	}
	return errors.Join(err, c.n.Close())
}

// ContactsCheckOptions configure ContactsCheck.
type ContactsCheckOptions struct {
	Path   string // the contacts file
	DryRun string // alerts as JSON lines (from mlads analyze), or ""
	Out    io.Writer
	Getenv func(string) (string, bool)
}

// ContactsCheck loads and checks a contacts file and prints what it
// holds. With DryRun it routes the alerts of that file through the noise
// control (on a scratch outbox, nothing sent) and prints who would get
// what by which channel.
func ContactsCheck(opts ContactsCheckOptions) error {
	c, err := notify.Load(opts.Path, opts.Getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "%s: ok: %d people, %d routes and a default, channels:", opts.Path, len(c.People), len(c.Routes))
	for _, ch := range []struct {
		name string
		on   bool
	}{{"email", c.Email != nil}, {"sms/twilio", c.Twilio != nil}, {"sms/gateway", c.Gateway != nil}, {"slack", c.Slack != nil}} {
		if ch.on {
			fmt.Fprintf(opts.Out, " %s", ch.name)
		}
	}
	fmt.Fprintln(opts.Out)
	if opts.DryRun == "" {
		return nil
	}
	docs, err := readAlerts(opts.DryRun)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "mlads-dry-run-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	var last time.Time
	for _, d := range docs {
		if d.Timestamp.After(last) {
			last = d.Timestamp
		}
	}
	// the wall clock stands still: only the alerts' own time moves
	n, err := notify.New(c, nil, notify.Options{Outbox: dir, Clock: func() time.Time { return last },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer func() { _ = n.Close() }()
	if _, err := n.Write(context.Background(), docs); err != nil {
		return err
	}
	n.Tick()
	for _, m := range n.Pending() {
		fmt.Fprintf(opts.Out, "%s  %-8s %-15s %-5s %-7s %-30s %s (route %s)\n", m.Created.UTC().Format(time.RFC3339), severityWord(m.Severity),
			m.Kind, m.Channel, m.Via, m.To, m.Subject, m.Route)
	}
	st := n.Stats()
	fmt.Fprintf(opts.Out, "%d alerts: %d messages; %d repeats counted, %d held for digests, %d digests, %d resolved notices\n",
		len(docs), st.Queued, st.Repeats, st.Held, st.Digests, st.Resolved)
	return nil
}

func severityWord(s int) string {
	if s >= 1 && s <= 4 {
		return []string{"low", "medium", "high", "critical"}[s-1]
	}
	return "-"
}

// readAlerts reads alert documents, one JSON object a line.
func readAlerts(path string) ([]*alert.Alert, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	var out []*alert.Alert
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		a := &alert.Alert{}
		if err := json.Unmarshal(sc.Bytes(), a); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ContactsTestOptions configure ContactsTest.
type ContactsTestOptions struct {
	Path    string
	Channel string // email, sms, slack, or smtp, gateway, twilio, bot, webhook; "" for all
	Out     io.Writer
	Getenv  func(string) (string, bool)
}

// ContactsTest sends a test message through every configured channel
// (or one) and prints what each answered. It fails when any did.
func ContactsTest(ctx context.Context, opts ContactsTestOptions) error {
	c, err := notify.Load(opts.Path, opts.Getenv)
	if err != nil {
		return err
	}
	send, err := notify.NewSenders(c)
	if err != nil {
		return err
	}
	res, err := notify.Probe(ctx, c, send, opts.Channel, time.Now())
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range res {
		if r.Err != nil {
			failed++
			fmt.Fprintf(opts.Out, "%-8s %-30s FAILED after %s: %v\n", r.Via, r.To, r.Took.Round(time.Millisecond), r.Err)
			continue
		}
		fmt.Fprintf(opts.Out, "%-8s %-30s ok in %s %s\n", r.Via, r.To, r.Took.Round(time.Millisecond), r.Receipt)
	}
	if failed > 0 {
		return fmt.Errorf("contacts test: %d of %d messages failed", failed, len(res))
	}
	return nil
}

// RulesCheck loads and checks rule files, prints each rule with its state
// at now, and says which have expired. Expired rules are reported, not
// errors; a rule file that does not load is.
func RulesCheck(paths []string, now time.Time, out io.Writer) error {
	rs, err := rules.Load(paths...)
	if err != nil {
		return err
	}
	expired := 0
	for _, r := range rs.Rules {
		state := "active until " + r.Expires.UTC().Format(time.RFC3339)
		if !now.Before(r.Expires) {
			state = "EXPIRED " + r.Expires.UTC().Format(time.RFC3339)
			expired++
		}
		fmt.Fprintf(out, "%s:%d  %-24s %-8s %-28s %s: %s\n", r.File, r.Line, r.ID, r.Kind, r.Owner, state, r.Reason)
	}
	fmt.Fprintf(out, "%d rules, %d expired\n", len(rs.Rules), expired)
	return nil
}
