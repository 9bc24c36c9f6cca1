package notify

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// repeatContent is a Slack thread reply: the incident goes on.
func repeatContent(inc *incident, now time.Time) content {
	more := inc.Count - max(inc.Replied, 1)
	c := content{
		subject: fmt.Sprintf("%s by %s: %d more, %d in all", inc.Detector, inc.Host, more, inc.Count),
		title:   fmt.Sprintf("Still going: %d more, %d in all", more, inc.Count),
		summary: inc.Summary,
		fields:  [][2]string{{"Last seen", inc.Last.UTC().Format(stamp)}},
		footer:  "incident " + inc.ID,
	}
	c.sms = c.subject
	_ = now
	return c
}

// resolvedContent says an incident has been quiet for its resolve time.
func resolvedContent(inc *incident, now time.Time) content {
	c := content{
		subject: "[mlads RESOLVED] " + inc.Detector + " " + inc.Host,
		title:   "Resolved: " + inc.Detector + " by " + inc.Host,
		summary: fmt.Sprintf("No new alert for %s. %d alerts from %s to %s.",
			now.Sub(inc.Last).Round(time.Minute), inc.Count, inc.First.UTC().Format(stamp), inc.Last.UTC().Format(stamp)),
		fields: [][2]string{{"Last summary", inc.Summary}},
		footer: "incident " + inc.ID,
	}
	c.sms = "RESOLVED " + inc.Host + " " + inc.Detector + " quiet since " + inc.Last.UTC().Format("Jan 2 15:04Z")
	return c
}

// digestContent lists what a throttle or quiet hours held back for t,
// and how often the incidents it was told of repeated.
func (n *Notifier) digestContent(t *target, r *Route, now time.Time) content {
	c := content{
		subject: fmt.Sprintf("[mlads digest] %d alerts held, %d incidents repeating", len(t.Held)+t.Dropped, len(t.Repeats)),
		title:   "mlads digest for " + t.Contact,
		summary: fmt.Sprintf("What route %s held back since %s, and the incidents that went on.", r.Name, t.Since.UTC().Format(stamp)),
		footer:  "digest " + strconv.Itoa(t.Seq) + " of " + r.Name + "/" + t.Contact,
	}
	if len(t.Held) > 0 {
		s := section{title: "Held back"}
		for _, h := range t.Held {
			s.items = append(s.items, fmt.Sprintf("%s %s (%s): %s", h.When.UTC().Format("15:04:05"), h.Title, h.Why, h.Summary))
		}
		if t.Dropped > 0 {
			s.items = append(s.items, fmt.Sprintf("and %d more", t.Dropped))
		}
		c.sections = append(c.sections, s)
	} else if t.Dropped > 0 {
		c.sections = append(c.sections, section{"Held back", []string{fmt.Sprintf("%d alerts", t.Dropped)}})
	}
	if len(t.Repeats) > 0 {
		s := section{title: "Repeats"}
		for _, id := range slices.Sorted(mapKeys(t.Repeats)) {
			inc := n.st.Incidents[id]
			if inc == nil {
				s.items = append(s.items, fmt.Sprintf("incident %s: %d more", id, t.Repeats[id]))
				continue
			}
			s.items = append(s.items, fmt.Sprintf("%s by %s: %d more, %d in all, last %s",
				inc.Detector, inc.Host, t.Repeats[id], inc.Count, inc.Last.UTC().Format(stamp)))
		}
		c.sections = append(c.sections, s)
	}
	c.sms = fmt.Sprintf("mlads digest: %d held, %d repeating", len(t.Held)+t.Dropped, len(t.Repeats))
	if len(t.Held) > 0 {
		c.sms += "; first: " + t.Held[0].Title
	}
	_ = now
	return c
}
