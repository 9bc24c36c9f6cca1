package netns

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// The traffic a Pair's tests exchange, and what each exchange must come out
// as in conn.log terms.
const (
	PingCount   = 3  // echo requests, each answered
	PingPayload = 56 // bytes of data in each, as ping sends
	TCPPort     = 8080
	TCPSent     = 1000 // bytes the client sends
	TCPAnswer   = 2000 // bytes the server answers, then it closes
	ClosedPort  = 9    // nothing listens: the connection is refused
	UDPPort     = 5353
	UDPCount    = 3   // datagrams the client sends
	UDPSize     = 100 // bytes each
	UDPAnswer   = 50  // one datagram the server answers
)

// ServedPair is NewPair with IPv6 off and the Servers running, stopped
// when t ends: the setup of every test that makes the Exchange.
func ServedPair(t testing.TB, subnet int) *Pair {
	t.Helper()
	p := NewPair(t, subnet)
	if err := p.DisableIPv6(); err != nil {
		t.Fatal(err)
	}
	stop, err := p.Servers()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return p
}

// DisableIPv6 turns IPv6 off in both namespaces, so that the kernel's own
// neighbour discovery and MLD reports do not add flows to an exact count.
func (p *Pair) DisableIPv6() error {
	for _, ns := range []string{p.A, p.B} {
		out, err := Command(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
			"net.ipv6.conf.default.disable_ipv6=1").CombinedOutput()
		if err != nil {
			return fmt.Errorf("netns: %s: sysctl: %w: %s", ns, err, out)
		}
	}
	return nil
}

// Servers starts, in namespace B, the TCP and UDP servers the exchanges
// talk to. stop closes them.
func (p *Pair) Servers() (stop func(), err error) {
	var ln net.Listener
	var pc net.PacketConn
	err = Do(p.B, func() error {
		var err error
		if ln, err = net.Listen("tcp4", net.JoinHostPort(p.AddrB, strconv.Itoa(TCPPort))); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp4", net.JoinHostPort(p.AddrB, strconv.Itoa(UDPPort)))
		return err
	})
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return nil, fmt.Errorf("netns: servers: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, TCPSent)
			if _, err := io.ReadFull(c, buf); err == nil {
				_, _ = c.Write(make([]byte, TCPAnswer))
			}
			_ = c.Close()
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for n := 0; ; n++ {
			_, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n%UDPCount == UDPCount-1 {
				_, _ = pc.WriteTo(make([]byte, UDPAnswer), addr)
			}
		}
	}()
	return func() { _ = ln.Close(); _ = pc.Close(); wg.Wait() }, nil
}

// Exchange makes, from namespace A, the four exchanges: a ping of
// PingCount echoes, a TCP connection with data both ways, a refused TCP
// connection, and UDPCount datagrams answered once.
func (p *Pair) Exchange() error {
	return Do(p.A, func() error {
		return errors.Join(p.ping(), p.tcp(), p.refused(), p.udp())
	})
}

func (p *Pair) ping() error {
	c, err := icmp.ListenPacket("ip4:icmp", p.AddrA)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	defer func() { _ = c.Close() }()
	dst := &net.IPAddr{IP: net.ParseIP(p.AddrB)}
	buf := make([]byte, 1500)
	for i := 1; i <= PingCount; i++ {
		m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: i, Data: make([]byte, PingPayload)}}
		b, err := m.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(b, dst); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return fmt.Errorf("ping %d: no reply: %w", i, err)
			}
			if r, err := icmp.ParseMessage(1, buf[:n]); err == nil && r.Type == ipv4.ICMPTypeEchoReply {
				break
			}
		}
	}
	return nil
}

func (p *Pair) tcp() error {
	c, err := net.DialTimeout("tcp4", net.JoinHostPort(p.AddrB, strconv.Itoa(TCPPort)), 2*time.Second)
	if err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(make([]byte, TCPSent)); err != nil {
		return fmt.Errorf("tcp: %w", err)
	}
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != TCPAnswer {
		return fmt.Errorf("tcp: read %d bytes of %d: %w", n, TCPAnswer, err)
	}
	return nil
}

func (p *Pair) refused() error {
	c, err := net.DialTimeout("tcp4", net.JoinHostPort(p.AddrB, strconv.Itoa(ClosedPort)), 2*time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("refused: port %d accepted a connection", ClosedPort)
	}
	return nil
}

func (p *Pair) udp() error {
	c, err := net.Dial("udp4", net.JoinHostPort(p.AddrB, strconv.Itoa(UDPPort)))
	if err != nil {
		return fmt.Errorf("udp: %w", err)
	}
	defer func() { _ = c.Close() }()
	for i := 0; i < UDPCount; i++ {
		if _, err := c.Write(make([]byte, UDPSize)); err != nil {
			return fmt.Errorf("udp: %w", err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 2048)
	if n, err := c.Read(buf); err != nil || n != UDPAnswer {
		return fmt.Errorf("udp: answer of %d bytes: %w", n, err)
	}
	return nil
}
