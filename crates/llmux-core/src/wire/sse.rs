//! Server-sent events framing (WHATWG HTML "event stream" parsing), incremental over reads.
//!
//! Works on bytes, so a UTF-8 sequence split across reads is whole again before it is decoded.
//! Lines end in `\n`, `\r\n` or `\r` (a `\r` at the end of one read may pair with a `\n` at the
//! start of the next). Comments (`:`) and `id`/`retry` fields are skipped; several `data:` lines
//! join with `\n`. At the end of the stream a pending event is delivered even without its blank
//! line, since some servers end with a bare `data: [DONE]\n`.

use crate::error::{Error, ErrorKind, Result};

/// One dispatched event. `event` is "" when the server sent no `event:` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    pub event: &'a str,
    pub data: &'a str,
}

#[derive(Debug)]
pub struct SseFramer {
    /// Bytes not yet consumed: at most one partial line after `push` returns.
    buf: Vec<u8>,
    event: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    /// The previous read ended in `\r`: a `\n` starting this read belongs to it.
    skip_lf: bool,
    /// The most bytes one event (its pending line, its data and its name) may hold.
    max_event: usize,
    /// Some bytes were read (a byte-order mark is stripped only at the very start).
    started: bool,
}

/// The default bound on one event: far above any provider's largest chunk, far below harm.
pub const DEFAULT_MAX_EVENT: usize = 16 * 1024 * 1024;

impl Default for SseFramer {
    fn default() -> Self {
        SseFramer::with_limit(DEFAULT_MAX_EVENT)
    }
}

impl SseFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A framer that refuses an event (or an unterminated line) over `max_event` bytes.
    pub fn with_limit(max_event: usize) -> Self {
        SseFramer {
            buf: Vec::new(),
            event: Vec::new(),
            data: Vec::new(),
            has_data: false,
            skip_lf: false,
            max_event: max_event.max(1),
            started: false,
        }
    }

    pub fn set_limit(&mut self, max_event: usize) {
        self.max_event = max_event.max(1);
    }

    /// Feeds one read; calls `on_event` for every event completed by it.
    pub fn push<F>(&mut self, bytes: &[u8], mut on_event: F) -> Result<()>
    where
        F: FnMut(SseEvent<'_>) -> Result<()>,
    {
        let mut bytes = bytes;
        if bytes.is_empty() {
            return Ok(());
        }
        if !self.started {
            // A byte-order mark may open the stream (the spec strips one).
            self.started = true;
            if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                bytes = rest;
            }
        }
        if self.skip_lf {
            self.skip_lf = false;
            if bytes.first() == Some(&b'\n') {
                bytes = &bytes[1..];
            }
        }
        // Fast path: nothing pending, so lines can be read straight from the input.
        let mut rest = bytes;
        if !self.buf.is_empty() {
            // The pending bytes hold no line break (that is why they are pending): a read with
            // none either only extends them. Each byte is scanned once, so a line trickled in
            // a byte at a time costs linear, not quadratic, time.
            if !bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
                self.buf.extend_from_slice(bytes);
                return self.check_pending();
            }
            self.buf.extend_from_slice(bytes);
            let buf = std::mem::take(&mut self.buf);
            let consumed = self.lines(&buf, &mut on_event);
            let result = consumed.map(|n| {
                self.buf = buf;
                self.buf.drain(..n);
            });
            result?;
            return self.check_pending();
        }
        let n = self.lines(rest, &mut on_event)?;
        rest = &rest[n..];
        self.buf.extend_from_slice(rest);
        self.check_pending()
    }

    /// The stream ended: delivers a last unterminated line and pending event.
    pub fn finish<F>(&mut self, mut on_event: F) -> Result<()>
    where
        F: FnMut(SseEvent<'_>) -> Result<()>,
    {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.line(&line, &mut on_event)?;
        }
        self.dispatch(&mut on_event)
    }

    fn check_pending(&self) -> Result<()> {
        if self.buf.len() + self.data.len() > self.max_event {
            return Err(self.too_large());
        }
        Ok(())
    }

    fn too_large(&self) -> Error {
        Error::new(ErrorKind::Decode, format!("an event stream event exceeds {} bytes", self.max_event))
    }

    /// Processes every complete line in `input`; returns how many bytes were consumed.
    fn lines<F>(&mut self, input: &[u8], on_event: &mut F) -> Result<usize>
    where
        F: FnMut(SseEvent<'_>) -> Result<()>,
    {
        let mut start = 0;
        while let Some(off) = input[start..].iter().position(|&b| b == b'\n' || b == b'\r') {
            let end = start + off;
            self.line(&input[start..end], on_event)?;
            start = end + 1;
            if input[end] == b'\r' {
                match input.get(start) {
                    Some(b'\n') => start += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
        }
        Ok(start)
    }

    fn line<F>(&mut self, line: &[u8], on_event: &mut F) -> Result<()>
    where
        F: FnMut(SseEvent<'_>) -> Result<()>,
    {
        if line.is_empty() {
            return self.dispatch(on_event);
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                // An endless run of `data:` lines with no blank line would grow one event for
                // ever: it is bounded like a line.
                if self.data.len() + value.len() + 1 > self.max_event {
                    return Err(self.too_large());
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                // Event names are short words; a longer one is no name we know: kept empty.
                self.event.clear();
                if value.len() <= 256 {
                    self.event.extend_from_slice(value);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch<F>(&mut self, on_event: &mut F) -> Result<()>
    where
        F: FnMut(SseEvent<'_>) -> Result<()>,
    {
        if !self.has_data {
            self.event.clear();
            return Ok(());
        }
        let result = match (std::str::from_utf8(&self.data), std::str::from_utf8(&self.event)) {
            (Ok(data), Ok(event)) => on_event(SseEvent { event, data }),
            _ => Err(Error::new(ErrorKind::Decode, "event stream is not valid UTF-8")),
        };
        self.data.clear();
        self.event.clear();
        self.has_data = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_read_between_cr_and_lf_and_a_leading_bom() {
        assert_eq!(collect(&[b"data: a\r", b"", b"\ndata: b\n\n"]), vec![(String::new(), "a\nb".to_owned())]);
        assert_eq!(collect(&[b"\xEF\xBB\xBFdata: x\n\n"]), vec![(String::new(), "x".to_owned())]);
        let long = format!("event: {}é\ndata: y\n\n", "e".repeat(255));
        assert_eq!(collect(&[long.as_bytes()]), vec![(String::new(), "y".to_owned())]);
    }

    #[test]
    fn events_and_lines_are_bounded() {
        // An endless run of data lines without a blank line.
        let mut f = SseFramer::with_limit(1000);
        let mut r = Ok(());
        for _ in 0..200 {
            r = f.push(b"data: 0123456789\n", |_| Ok(()));
            if r.is_err() {
                break;
            }
        }
        assert_eq!(r.unwrap_err().kind, ErrorKind::Decode);
        // One line with no terminator.
        let mut f = SseFramer::with_limit(1000);
        let e = f.push(b"data: ", |_| Ok(())).and_then(|_| f.push(&[b'x'; 2000], |_| Ok(()))).unwrap_err();
        assert!(e.message.contains("1000"), "{}", e.message);
        // Under the limit, events keep flowing and the memory is given back.
        let mut f = SseFramer::with_limit(1000);
        let mut n = 0;
        for _ in 0..10_000 {
            f.push(b"data: 0123456789\n\n", |_| {
                n += 1;
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(n, 10_000);
    }

    #[test]
    fn a_trickled_long_line_costs_linear_time() {
        // 4 MiB a byte at a time: quadratic rescanning would take minutes; linear takes ms.
        let mut f = SseFramer::new();
        let started = std::time::Instant::now();
        f.push(b"data: ", |_| Ok(())).unwrap();
        for _ in 0..(4 << 20) {
            f.push(b"x", |_| Ok(())).unwrap();
        }
        let mut got = 0;
        f.push(b"\n\n", |e| {
            got = e.data.len();
            Ok(())
        })
        .unwrap();
        assert_eq!(got, 4 << 20);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }

    fn collect(reads: &[&[u8]]) -> Vec<(String, String)> {
        let mut f = SseFramer::new();
        let mut out = Vec::new();
        for r in reads {
            f.push(r, |e| {
                out.push((e.event.to_owned(), e.data.to_owned()));
                Ok(())
            })
            .unwrap();
        }
        f.finish(|e| {
            out.push((e.event.to_owned(), e.data.to_owned()));
            Ok(())
        })
        .unwrap();
        out
    }

    fn ev(event: &str, data: &str) -> (String, String) {
        (event.to_owned(), data.to_owned())
    }

    #[test]
    fn frames_split_across_every_byte_boundary() {
        let input = "event: a\r\ndata: {\"x\":\"é😀\"}\r\n\r\n: comment\n\ndata: 2\n\n".as_bytes();
        let whole = collect(&[input]);
        assert_eq!(whole, vec![ev("a", "{\"x\":\"é😀\"}"), ev("", "2")]);
        for i in 0..input.len() {
            assert_eq!(collect(&[&input[..i], &input[i..]]), whole, "split at {i}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(collect(&bytes), whole);
    }

    #[test]
    fn crlf_and_lone_cr_terminate_lines() {
        assert_eq!(collect(&[b"data: a\r\r", b"data: b\r\n\r\n"]), vec![ev("", "a"), ev("", "b")]);
        assert_eq!(collect(&[b"data: a\r", b"\n\r\n"]), vec![ev("", "a")]);
    }

    #[test]
    fn multi_line_data_joins_with_newline() {
        assert_eq!(collect(&[b"data: a\ndata:b\ndata\n\n"]), vec![ev("", "a\nb\n")]);
    }

    #[test]
    fn stream_ending_without_blank_line_still_delivers() {
        assert_eq!(collect(&[b"data: x\n\ndata: [DONE]\n"]), vec![ev("", "x"), ev("", "[DONE]")]);
        assert_eq!(collect(&[b"data: [DONE]"]), vec![ev("", "[DONE]")]);
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        assert_eq!(collect(&[b"event: ping\n\nid: 3\nretry: 10\n\n"]), vec![]);
    }

    #[test]
    fn invalid_utf8_is_a_decode_error() {
        let mut f = SseFramer::new();
        let err = f.push(b"data: \xff\n\n", |_| Ok(())).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Decode);
    }

    #[test]
    fn callback_error_stops_the_read() {
        let mut f = SseFramer::new();
        let mut n = 0;
        let r = f.push(b"data: 1\n\ndata: 2\n\n", |_| {
            n += 1;
            Err(Error::new(ErrorKind::Decode, "stop"))
        });
        assert!(r.is_err());
        assert_eq!(n, 1);
    }
}
