package term

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// outputPump copies the target's output to the user and hands it to the
// recorder, the watchers and the extractor, none of which blocks.
func (r *relay) outputPump() {
	defer close(r.pumpDone)
	small := make([]byte, smallRead)
	buf := small
	for {
		n, err := r.cfg.Target.Read(buf)
		if n > 0 {
			p := buf[:n]
			r.outBusy.Store(true)
			// The extractor's queue takes the bytes before the user sees
			// them (a copy, no waiting): a key typed in reaction to this
			// output must never reach the screen model before it.
			r.x.output(p)
			r.userMu.Lock()
			_, werr := r.cfg.User.Write(p)
			r.userMu.Unlock()
			if r.rec != nil {
				r.rec.Output(p)
			}
			if r.live != nil {
				r.live.Output(p)
			}
			r.bytesOut.Add(int64(n))
			r.lastOutput.Store(r.mono())
			r.outBusy.Store(false)
			if werr != nil {
				r.end(EndClientClosed, nil)
				return
			}
			switch {
			case n == len(buf) && len(buf) < bigRead:
				buf = make([]byte, bigRead) // busy: read in large chunks
			case len(buf) == bigRead && n < quietRead:
				buf = small // interactive again: let the large buffer go
			}
		}
		if err != nil {
			switch {
			case errors.Is(err, io.EOF), r.ended.Load():
				r.end(EndTargetClosed, nil)
			default:
				r.end(EndTargetError, fmt.Errorf("term: read target: %w", err))
			}
			return
		}
	}
}

// userPump reads the user's keystrokes.
func (r *relay) userPump(ctx context.Context) {
	buf := make([]byte, userRead)
	for {
		n, err := r.cfg.User.Read(buf)
		if r.ended.Load() {
			return
		}
		if n > 0 {
			r.input(ctx, buf[:n])
		}
		if err != nil {
			r.end(EndClientClosed, nil)
			return
		}
	}
}

// joinPump forwards the input of interactive joiners, starting with first.
func (r *relay) joinPump(ctx context.Context, first []byte) {
	r.input(ctx, first)
	in := r.live.JoinInput()
	for {
		select {
		case p, ok := <-in:
			if !ok {
				return
			}
			r.input(ctx, p)
		case <-ctx.Done():
			return
		}
	}
}

// input handles a chunk of input from the user or a joiner. Ordinary
// keystrokes are written to the target at once; an Enter takes the slow path
// (enter). While an Enter is handled (up to an approval), further input waits.
func (r *relay) input(ctx context.Context, p []byte) {
	r.inMu.Lock()
	defer r.inMu.Unlock()
	if r.ended.Load() {
		return
	}
	r.lastInput.Store(r.clock().UnixNano())
	if r.locked.Load() {
		if r.lockNotice.CompareAndSwap(false, true) {
			r.notify(Message(r.cfg.Lang, MsgLocked))
		}
		return
	}
	if !r.x.fullScreen.Load() {
		p = r.paste.filter(r.scratch[:0], p)
		r.scratch = p
		if r.paste.pending() {
			r.armFlush()
		}
	} else if r.paste.pending() {
		p = append(r.paste.flush(r.scratch[:0]), p...)
		r.scratch = p
	}
	r.process(ctx, p)
}

// armFlush forwards a held Esc after pasteFlushDelay if no input completes
// it. Reset does not allocate: an Esc key press costs no garbage.
func (r *relay) armFlush() { r.flusher.Reset(pasteFlushDelay) }

// flushHeld forwards the bytes the paste filter holds.
func (r *relay) flushHeld(ctx context.Context) {
	r.inMu.Lock()
	defer r.inMu.Unlock()
	if r.ended.Load() || !r.paste.pending() {
		return
	}
	p := r.paste.flush(r.scratch[:0])
	r.scratch = p
	r.process(ctx, p)
}

// process forwards p, handling each Enter in it in turn. After a command is
// refused, the rest of p (the rest of a paste) is discarded.
func (r *relay) process(ctx context.Context, p []byte) {
	for len(p) > 0 {
		i := indexEnter(p)
		if i < 0 {
			r.forward(p)
			return
		}
		r.forward(p[:i])
		// CR LF is one Enter, sent as CR: the LF would be a second, empty line.
		enter, rest := p[i:i+1], p[i+1:]
		if p[i] == '\r' && len(rest) > 0 && rest[0] == '\n' {
			rest = rest[1:]
		}
		if !r.enter(ctx, enter) {
			if len(rest) > 0 && !r.ended.Load() {
				r.notify(Message(r.cfg.Lang, MsgInputDiscarded))
			}
			return
		}
		if len(rest) > 0 {
			// More lines of a paste: let the command start and the shell
			// show its next prompt, as for a person typing, so that the
			// next line's echo lands after the prompt on screen.
			r.settle(ctx)
		}
		p = rest
	}
}

// indexEnter returns the index of the first CR or LF in p, or -1.
func indexEnter(p []byte) int {
	for i, c := range p {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return -1
}

// forward writes keystrokes (not an Enter) to the target.
func (r *relay) forward(p []byte) {
	if len(p) == 0 {
		return
	}
	// The extractor's queue takes the keys before the target does, so that
	// their echo can never reach the screen model first.
	r.x.input(p)
	if _, err := r.cfg.Target.Write(p); err != nil {
		r.end(EndTargetClosed, nil)
		return
	}
	r.bytesIn.Add(int64(len(p)))
	r.lastForward.Store(r.mono())
	r.line.feed(p)
	if r.rec != nil {
		r.rec.Input(p)
	}
}

// sendEnter lets an Enter through.
func (r *relay) sendEnter(enter []byte) {
	if _, err := r.cfg.Target.Write(enter); err != nil {
		r.end(EndTargetClosed, nil)
		return
	}
	r.bytesIn.Add(int64(len(enter)))
	r.lastForward.Store(r.mono())
	if r.rec != nil {
		r.rec.Input(enter)
	}
}

// abandonLine makes the target drop the line whose Enter was withheld, and
// waits for it to have done so before more input is forwarded.
func (r *relay) abandonLine(ctx context.Context) {
	r.x.input(r.clear)
	r.line.reset()
	if _, err := r.cfg.Target.Write(r.clear); err != nil {
		r.end(EndTargetClosed, nil)
		return
	}
	r.lastForward.Store(r.mono())
	r.settle(ctx)
}
