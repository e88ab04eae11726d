//! Embedding vectors as one flat row-major buffer of float32: what providers' base64 already is
//! (little-endian float32, OpenAI's `encoding_format: base64`), what JSON floats become as
//! they are read, and what JS gets as one `Float32Array` with a view per row.

use base64::Engine;
use serde::de::{Deserializer, SeqAccess, Visitor};

use crate::error::{Error, Result};

/// `rows` vectors of `dims` floats each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vectors {
    pub dims: usize,
    pub data: Vec<f32>,
}

impl Vectors {
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dims).unwrap_or(0)
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }

    /// Appends one row, which must have the dimensions of the others.
    pub fn push_row(&mut self, row: &[f32], provider: &'static str) -> Result<()> {
        self.check_dims(row.len(), provider)?;
        self.data.extend_from_slice(row);
        Ok(())
    }

    fn check_dims(&mut self, n: usize, provider: &'static str) -> Result<()> {
        if n == 0 {
            return Err(Error::decode(provider, "an embedding with no values"));
        }
        if self.data.is_empty() {
            self.dims = n;
        } else if n != self.dims {
            return Err(Error::decode(provider, format!("embeddings of {} and {n} dimensions in one answer", self.dims)));
        }
        Ok(())
    }

    /// Appends a row given as base64 of little-endian float32 (OpenAI's `encoding_format:
    /// base64`): decoded straight into place, no number parsed.
    pub fn push_base64(&mut self, b64: &str, provider: &'static str) -> Result<()> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| Error::decode(provider, "an embedding's base64 does not decode"))?;
        if bytes.len() % 4 != 0 {
            return Err(Error::decode(provider, "an embedding's base64 is not whole float32 values"));
        }
        self.check_dims(bytes.len() / 4, provider)?;
        self.data.extend(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        Ok(())
    }

    /// Appends another batch's rows (in order).
    pub fn append(&mut self, other: Vectors, provider: &'static str) -> Result<()> {
        if other.data.is_empty() {
            return Ok(());
        }
        self.check_dims(other.dims, provider)?;
        if self.data.is_empty() {
            self.data = other.data;
        } else {
            self.data.extend_from_slice(&other.data);
        }
        Ok(())
    }

    /// A row as base64 of little-endian float32 (what OpenAI sends for `encoding_format: base64`).
    pub fn row_base64(&self, i: usize) -> String {
        let mut bytes = Vec::with_capacity(self.dims * 4);
        for v in self.row(i) {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

/// A JSON array of numbers read straight into float32 (no `Value` per number).
pub struct FloatRow(pub Vec<f32>);

impl<'de> serde::Deserialize<'de> for FloatRow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FloatRow;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<FloatRow, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1024).min(65_536));
                while let Some(x) = seq.next_element::<f64>()? {
                    out.push(x as f32);
                }
                Ok(FloatRow(out))
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rows_are_little_endian_float32() {
        let mut v = Vectors::default();
        let row = [0.5f32, -1.25, 3.0];
        let b64 = base64::engine::general_purpose::STANDARD.encode(row.iter().flat_map(|f| f.to_le_bytes()).collect::<Vec<_>>());
        v.push_base64(&b64, "openai").unwrap();
        v.push_row(&[1.0, 2.0, 3.0], "openai").unwrap();
        assert_eq!((v.rows(), v.dims), (2, 3));
        assert_eq!(v.row(0), &row);
        assert_eq!(v.row_base64(0), b64);
        assert!(v.push_row(&[1.0], "openai").is_err(), "dimensions must agree");
        assert!(v.push_base64("AAA", "openai").is_err());
        assert!(v.push_base64("AAAAAAA=", "openai").is_err(), "5 bytes are not whole floats");
    }

    #[test]
    fn json_rows_read_as_float32() {
        let r: FloatRow = serde_json::from_str("[0.1, -2, 1e-3]").unwrap();
        assert_eq!(r.0, vec![0.1f32, -2.0, 0.001]);
        assert!(serde_json::from_str::<FloatRow>("[0.1, \"x\"]").is_err());
    }
}
