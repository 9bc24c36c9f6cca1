package notify

import (
	"fmt"
	"strings"
	"time"
)

// Schedule is a time zone and the quiet hours in it. In quiet hours a
// message waits for the digest sent when they end, unless the alert is at
// least ExceptSeverity (a critical alert still wakes someone).
type Schedule struct {
	Name           string
	Location       *time.Location
	Hours          []QuietHours
	ExceptSeverity int // 0: nothing breaks through
}

// QuietHours is a daily window, [From, To) in minutes after midnight, on
// the given weekdays (all when Days is 0). A window whose To is before its
// From runs over midnight and belongs to the day it starts on.
type QuietHours struct {
	Days     uint8 // bit d is time.Weekday d
	From, To int
}

// Quiet reports whether t falls in the schedule's quiet hours, read in
// its time zone, for an alert of the given severity.
func (s *Schedule) Quiet(t time.Time, severity int) bool {
	if s == nil || (s.ExceptSeverity > 0 && severity >= s.ExceptSeverity) {
		return false
	}
	lt := t.In(s.Location)
	mins := lt.Hour()*60 + lt.Minute()
	day := lt.Weekday()
	yesterday := (day + 6) % 7
	for _, q := range s.Hours {
		if q.From < q.To {
			if q.on(day) && mins >= q.From && mins < q.To {
				return true
			}
			continue
		}
		// over midnight: the evening part today, the morning part from yesterday
		if (q.on(day) && mins >= q.From) || (q.on(yesterday) && mins < q.To) {
			return true
		}
	}
	return false
}

// QuietUntil returns when the quiet hours around t end (t itself when it
// is not quiet), looked up minute by minute for at most a week.
func (s *Schedule) QuietUntil(t time.Time, severity int) time.Time {
	if !s.Quiet(t, severity) {
		return t
	}
	u := t.Truncate(time.Minute)
	for range 7 * 24 * 60 {
		u = u.Add(time.Minute)
		if !s.Quiet(u, severity) {
			return u
		}
	}
	return u
}

func (q QuietHours) on(d time.Weekday) bool { return q.Days == 0 || q.Days&(1<<d) != 0 }

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

type keyErr struct{ key, msg string }

func compileSchedule(name string, fs fileSchedule) (*Schedule, *keyErr) {
	if fs.Timezone == "" {
		return nil, &keyErr{"timezone", "must name a time zone (an IANA name: Europe/Berlin, UTC)"}
	}
	loc, err := time.LoadLocation(fs.Timezone)
	if err != nil {
		return nil, &keyErr{"timezone", fmt.Sprintf("%q is not a time zone (an IANA name: Europe/Berlin, UTC)", fs.Timezone)}
	}
	s := &Schedule{Name: name, Location: loc}
	if fs.ExceptSeverity != "" {
		sev, ok := severities[fs.ExceptSeverity]
		if !ok {
			return nil, &keyErr{"except_severity", fmt.Sprintf("%q must be low, medium, high or critical", fs.ExceptSeverity)}
		}
		s.ExceptSeverity = sev
	}
	for i, fq := range fs.QuietHours {
		k := fmt.Sprintf("quiet_hours[%d]", i)
		var q QuietHours
		for j, d := range fs.QuietHours[i].Days {
			wd, ok := weekdays[strings.ToLower(d)]
			if !ok {
				return nil, &keyErr{fmt.Sprintf("%s.days[%d]", k, j), fmt.Sprintf("%q must be mon, tue, wed, thu, fri, sat or sun", d)}
			}
			q.Days |= 1 << wd
		}
		var ok bool
		if q.From, ok = clock(fq.From); !ok {
			return nil, &keyErr{k + ".from", fmt.Sprintf("%q is not a time of day (HH:MM)", fq.From)}
		}
		if q.To, ok = clock(fq.To); !ok {
			return nil, &keyErr{k + ".to", fmt.Sprintf("%q is not a time of day (HH:MM, 24:00 for midnight)", fq.To)}
		}
		if q.From == q.To {
			return nil, &keyErr{k + ".to", "equals from: an empty window"}
		}
		s.Hours = append(s.Hours, q)
	}
	return s, nil
}

// clock parses "HH:MM" (00:00 to 24:00) into minutes after midnight.
func clock(s string) (int, bool) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}
