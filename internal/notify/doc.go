// Package notify tells people of alerts by email, SMS and Slack: the
// contacts file (contacts, groups, routes, schedules), routing, the
// messages rendered from an alert's explanation, the channels, noise
// control (repeats counted, throttles, digests, resolved notices) and an
// on-disk outbox that delivers each message exactly once across restarts.
package notify
