//go:build !linux

package transport

import "errors"

// poller is Linux-only (epoll); elsewhere every read pump keeps reading in
// its goroutine for the socket's life.
type poller struct{}

func readPoller() *poller { return nil }

func (p *poller) arm(*Conn) error { return errors.ErrUnsupported }

func (p *poller) remove(*Conn) {}
