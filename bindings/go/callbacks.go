package smtp

// The functions libsmtp calls back during smtp_auth and
// smtp_sendmail_callback. Each receives a runtime/cgo.Handle as its
// userdata, recovers any panic (a Go panic must not unwind through C) and
// keeps the Go error for the caller.

/*
#include <stddef.h>
#include <stdint.h>
#include "smtp.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io"
	"runtime/cgo"
	"unsafe"
)

// authState is one Client.Auth exchange.
type authState struct {
	auth    Auth
	initial []byte // Start's toServer
	err     error  // what Next returned, or a recovered panic
}

//export libsmtpGoAuth
func libsmtpGoAuth(userdata unsafe.Pointer, challenge *C.uint8_t, n C.size_t, resp *C.smtp_buffer) (rc C.int) {
	s := cgo.Handle(uintptr(userdata)).Value().(*authState)
	defer func() {
		if p := recover(); p != nil {
			s.err = fmt.Errorf("smtp: Auth panicked: %v", p)
			rc = 1
		}
	}()
	var out []byte
	if challenge == nil {
		// The initial response: none when Start gave none.
		if len(s.initial) == 0 {
			return 0
		}
		out = s.initial
	} else {
		var err error
		out, err = s.auth.Next(C.GoBytes(unsafe.Pointer(challenge), C.int(n)), true)
		if err != nil {
			s.err = err
			return 1
		}
	}
	var p *C.uint8_t
	if len(out) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&out[0]))
	}
	if C.smtp_buffer_set(resp, p, C.size_t(len(out))) != C.SMTP_OK {
		s.err = errors.New("smtp: cannot hand the AUTH response to libsmtp")
		return 1
	}
	return 0
}

// readState is one body streamed from an io.Reader.
type readState struct {
	done    func() error // the context's Err
	r       io.Reader
	pending error // an error that came with the last bytes, for the next call
	err     error // why the body ended early: reported to the caller
}

//export libsmtpGoRead
func libsmtpGoRead(userdata unsafe.Pointer, buf *C.uint8_t, capacity C.size_t) (rc C.ptrdiff_t) {
	s := cgo.Handle(uintptr(userdata)).Value().(*readState)
	defer func() {
		if p := recover(); p != nil {
			s.err = fmt.Errorf("smtp: body reader panicked: %v", p)
			rc = -1
		}
	}()
	if err := s.done(); err != nil {
		s.err = err
		return -1
	}
	if s.pending != nil {
		if s.pending == io.EOF {
			return 0
		}
		s.err = s.pending
		return -1
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	for empty := 0; ; empty++ {
		n, err := s.r.Read(b)
		if n > 0 {
			s.pending = err
			return C.ptrdiff_t(n)
		}
		if err == io.EOF {
			return 0
		}
		if err != nil {
			s.err = err
			return -1
		}
		if empty == 100 {
			s.err = io.ErrNoProgress
			return -1
		}
	}
}

// debugState is where a Client's transcript goes.
type debugState struct {
	w io.Writer
}

//export libsmtpGoDebug
func libsmtpGoDebug(userdata unsafe.Pointer, line *C.char, n C.size_t) {
	s := cgo.Handle(uintptr(userdata)).Value().(*debugState)
	// A panicking writer loses its line, not the process.
	defer func() { _ = recover() }()
	b := C.GoBytes(unsafe.Pointer(line), C.int(n))
	_, _ = s.w.Write(append(b, '\n'))
}
