package chaos

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// proxy forwards kro-controller's TCP connections to the kube-apiserver (TLS passes through
// untouched). Cut is a network partition: every open connection is dropped and new ones are
// closed at once until it heals. Unlike a restart of either side, both keep running with their
// caches and in-memory state, and a watch resumes where it stopped without a re-list: only
// kro's own retries can finish what the partition interrupted.
type proxy struct {
	ln     net.Listener
	target string

	// mu guards conns and cutUntil, shared by the accept loop, the copy goroutines and Cut.
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	cutUntil time.Time
}

// newProxy listens on a free loopback port and forwards to target ("host:port").
func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Addr is the proxy's "host:port".
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy and drops its connections.
func (p *proxy) Close() {
	_ = p.ln.Close()
	p.dropAll()
}

// Cut drops every connection and refuses new ones for d.
func (p *proxy) Cut(d time.Duration) {
	p.mu.Lock()
	p.cutUntil = time.Now().Add(d)
	p.mu.Unlock()
	p.dropAll()
}

func (p *proxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		p.mu.Lock()
		cut := time.Now().Before(p.cutUntil)
		p.mu.Unlock()
		if cut {
			_ = in.Close()
			continue
		}
		go p.forward(in)
	}
}

func (p *proxy) forward(in net.Conn) {
	out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = in.Close()
		return
	}
	p.mu.Lock()
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pair := range [][2]net.Conn{{out, in}, {in, out}} {
		wg.Go(func() {
			_, _ = io.Copy(pair[0], pair[1])
			// One direction ended: end both, so the other copy returns too.
			_ = pair[0].Close()
			_ = pair[1].Close()
		})
	}
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}
