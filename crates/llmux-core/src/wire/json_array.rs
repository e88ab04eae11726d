//! Framing of a streamed JSON array (`[{...},\r\n{...}]`), as Gemini streams without `alt=sse`:
//! yields each top-level element as soon as its closing brace arrives.

use crate::error::{Error, ErrorKind, Result};

#[derive(Default, Debug)]
pub struct JsonArrayFramer {
    /// The most bytes one element may hold (0: the default bound).
    max_element: usize,
    buf: Vec<u8>,
    /// Scan position in `buf` and the state at that position.
    pos: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Start of the element being read, once its first byte was seen.
    start: Option<usize>,
    opened: bool,
    closed: bool,
}

impl JsonArrayFramer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_limit(&mut self, max_element: usize) {
        self.max_element = max_element.max(1);
    }

    fn limit(&self) -> usize {
        if self.max_element == 0 {
            crate::wire::sse::DEFAULT_MAX_EVENT
        } else {
            self.max_element
        }
    }

    pub fn push<F>(&mut self, bytes: &[u8], mut on_element: F) -> Result<()>
    where
        F: FnMut(&str) -> Result<()>,
    {
        self.buf.extend_from_slice(bytes);
        while self.pos < self.buf.len() {
            let b = self.buf[self.pos];
            let at = self.pos;
            self.pos += 1;
            if self.start.is_some() {
                if self.in_string {
                    match (self.escaped, b) {
                        (true, _) => self.escaped = false,
                        (false, b'\\') => self.escaped = true,
                        (false, b'"') => self.in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            let start = self.start.take().unwrap_or(at);
                            let text = std::str::from_utf8(&self.buf[start..=at])
                                .map_err(|_| Error::new(ErrorKind::Decode, "JSON stream is not valid UTF-8"))?;
                            on_element(text)?;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => {}
                b'[' if !self.opened => self.opened = true,
                b']' if self.opened => self.closed = true,
                b'{' if self.opened && !self.closed => {
                    self.start = Some(at);
                    self.depth = 1;
                }
                _ => return Err(Error::new(ErrorKind::Decode, format!("unexpected byte {:?} in JSON array stream", b as char))),
            }
        }
        // Keep only the element in progress.
        let keep_from = self.start.unwrap_or(self.pos);
        if keep_from > 0 {
            self.buf.drain(..keep_from);
            self.pos -= keep_from;
            if let Some(s) = &mut self.start {
                *s -= keep_from;
            }
        }
        if self.buf.len() > self.limit() {
            return Err(Error::new(ErrorKind::Decode, format!("a JSON array stream element exceeds {} bytes", self.limit())));
        }
        Ok(())
    }

    /// The array ended: an error if it was cut short.
    pub fn finish(&self) -> Result<()> {
        if self.start.is_some() || (self.opened && !self.closed) {
            return Err(Error::new(ErrorKind::Network, "JSON array stream ended before its closing bracket"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(reads: &[&[u8]]) -> Vec<String> {
        let mut f = JsonArrayFramer::new();
        let mut out = Vec::new();
        for r in reads {
            f.push(r, |e| {
                out.push(e.to_owned());
                Ok(())
            })
            .unwrap();
        }
        f.finish().unwrap();
        out
    }

    #[test]
    fn elements_split_anywhere() {
        let input = b"[{\"a\":\"}\\\"{\"}\n,\r\n{\"b\":[1,{\"c\":2}]}\n]";
        let whole = elements(&[input]);
        assert_eq!(whole, vec![r#"{"a":"}\"{"}"#, r#"{"b":[1,{"c":2}]}"#]);
        for i in 0..input.len() {
            assert_eq!(elements(&[&input[..i], &input[i..]]), whole, "split at {i}");
        }
    }

    #[test]
    fn truncated_array_is_an_error() {
        let mut f = JsonArrayFramer::new();
        f.push(b"[{\"a\":1}, {\"b\"", |_| Ok(())).unwrap();
        assert!(f.finish().is_err());
        assert!(JsonArrayFramer::new().push(b"x", |_| Ok(())).is_err());
    }
}
