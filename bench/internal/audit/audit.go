// Package audit reads the kube-apiserver's JSON audit log (one event per line) and counts API
// requests per user, verb and resource in time windows.
//
// The bench's audit policy logs every request at Metadata level with the RequestReceived stage
// omitted, so a normal request is one ResponseComplete event. A watch is logged twice
// (ResponseStarted and ResponseComplete, when it ends); it is counted once, by its audit ID.
package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// Event is the part of an audit event the bench uses.
type Event struct {
	AuditID     string
	User        string
	Verb        string
	Resource    string // "configmaps", "benchfives.kro.run" (group appended when not core)
	Subresource string
	Code        int
	Received    time.Time
}

// Key is verb plus resource[/subresource], e.g. "patch configmaps" or "patch benchfives.kro.run/status".
func (e Event) Key() string {
	r := e.Resource
	if r == "" {
		r = "(non-resource)"
	}
	if e.Subresource != "" {
		r += "/" + e.Subresource
	}
	return e.Verb + " " + r
}

// IsRead reports get, list and watch.
func IsRead(verb string) bool { return verb == "get" || verb == "list" || verb == "watch" }

type rawEvent struct {
	AuditID string `json:"auditID"`
	Stage   string `json:"stage"`
	Verb    string `json:"verb"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
}

// Log reads an audit log incrementally.
type Log struct {
	path    string
	offset  int64
	partial []byte
	events  []Event
	watches map[string]bool
}

// Open returns a Log reading path from its current end when fromEnd is set, else from the start.
func Open(path string, fromEnd bool) (*Log, error) {
	l := &Log{path: path, watches: map[string]bool{}}
	if fromEnd {
		fi, err := os.Stat(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if err == nil {
			l.offset = fi.Size()
		}
	}
	return l, nil
}

// Sync reads the events appended since the last call.
func (l *Log) Sync() error {
	f, err := os.Open(l.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(l.offset, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			l.partial = append(l.partial, line...)
			l.offset += int64(len(line))
			continue
		}
		if err == io.EOF {
			// An incomplete last line: keep it for the next Sync.
			l.partial = append(l.partial, line...)
			l.offset += int64(len(line))
			return nil
		}
		if err != nil {
			return err
		}
		l.offset += int64(len(line))
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = nil
		}
		if err := l.add(line); err != nil {
			return err
		}
	}
}

func (l *Log) add(line []byte) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	var raw rawEvent
	if err := json.Unmarshal(line, &raw); err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	l.addRaw(raw)
	return nil
}

// addRaw adds one decoded event.
func (l *Log) addRaw(raw rawEvent) {
	if raw.Stage == "RequestReceived" {
		return
	}
	if raw.Verb == "watch" {
		if l.watches[raw.AuditID] {
			return
		}
		l.watches[raw.AuditID] = true
	} else if raw.Stage != "ResponseComplete" && raw.Stage != "Panic" {
		return
	}
	e := Event{AuditID: raw.AuditID, User: raw.User.Username, Verb: raw.Verb, Received: raw.RequestReceivedTimestamp}
	if raw.ObjectRef != nil {
		e.Resource = raw.ObjectRef.Resource
		if raw.ObjectRef.APIGroup != "" {
			e.Resource += "." + raw.ObjectRef.APIGroup
		}
		e.Subresource = raw.ObjectRef.Subresource
	}
	if raw.ResponseStatus != nil {
		e.Code = raw.ResponseStatus.Code
	}
	l.events = append(l.events, e)
}

// ParseLine decodes one audit log line into l (for tests and tools).
func (l *Log) ParseLine(line []byte) error { return l.add(line) }

// Counts are the requests of one user in one window.
type Counts struct {
	Total  int            `json:"total"`
	Reads  int            `json:"reads"`
	Writes int            `json:"writes"`
	Errors int            `json:"errors"` // responses with code >= 400
	ByVerb map[string]int `json:"byVerb"`
	// ByKey counts "verb resource[/subresource]".
	ByKey map[string]int `json:"byKey"`
}

// Count counts the requests user made that the API server received in [from, to).
func (l *Log) Count(user string, from, to time.Time) Counts {
	c := Counts{ByVerb: map[string]int{}, ByKey: map[string]int{}}
	for _, e := range l.events {
		if e.User != user || e.Received.Before(from) || !e.Received.Before(to) {
			continue
		}
		c.Total++
		if IsRead(e.Verb) {
			c.Reads++
		} else {
			c.Writes++
		}
		if e.Code >= 400 {
			c.Errors++
		}
		c.ByVerb[e.Verb]++
		c.ByKey[e.Key()]++
	}
	return c
}

// KeyCount is one entry of Top.
type KeyCount struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Top returns the entries of m by descending count, then key.
func Top(m map[string]int) []KeyCount {
	out := make([]KeyCount, 0, len(m))
	for k, v := range m {
		out = append(out, KeyCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Len is the number of events read so far.
func (l *Log) Len() int { return len(l.events) }

// Last returns when the API server received the latest request of user received at or after
// from (false when there is none). Events are in completion order, so every one is looked at.
func (l *Log) Last(user string, from time.Time) (time.Time, bool) {
	var last time.Time
	found := false
	for _, e := range l.events {
		if e.User != user || e.Received.Before(from) {
			continue
		}
		if !found || e.Received.After(last) {
			last, found = e.Received, true
		}
	}
	return last, found
}
