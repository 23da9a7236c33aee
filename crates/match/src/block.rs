//! [`LineBlock`]: lines kept in one owned buffer, to hand a block of a log to another thread
//! and get it back for reuse.

/// Lines in one buffer, each with a caller's number (a line number, say), in order.
#[derive(Debug, Default, Clone)]
pub struct LineBlock {
    text: String,
    ends: Vec<usize>,
    tags: Vec<u64>,
}

impl LineBlock {
    /// Appends a line (without its line ending) and its number.
    pub fn push(&mut self, line: &str, tag: u64) {
        self.text.push_str(line);
        self.ends.push(self.text.len());
        self.tags.push(tag);
    }

    /// How many lines it holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no line.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The lines' bytes together.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// Line `i` ("" past the end).
    pub fn line(&self, i: usize) -> &str {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or(0),
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or("")
    }

    /// The number given with line `i` (0 past the end).
    pub fn tag(&self, i: usize) -> u64 {
        self.tags.get(i).copied().unwrap_or(0)
    }

    /// The lines, in order.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let line = self.text.get(start..end).unwrap_or("");
            start = end;
            line
        })
    }

    /// Empties it; a buffer grown past `keep` bytes is shrunk back to it.
    pub fn clear(&mut self, keep: usize) {
        self.text.clear();
        self.ends.clear();
        self.tags.clear();
        if self.text.capacity() > keep {
            self.text.shrink_to(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LineBlock;

    #[test]
    fn lines_come_back_in_order_with_their_numbers() {
        let mut b = LineBlock::default();
        b.push("one", 3);
        b.push("", 4);
        b.push("drei €", 9);
        assert_eq!(b.len(), 3);
        assert_eq!(b.lines().collect::<Vec<_>>(), ["one", "", "drei €"]);
        assert_eq!((b.line(2), b.tag(2)), ("drei €", 9));
        assert_eq!((b.line(7), b.tag(7)), ("", 0));
        b.clear(0);
        assert!(b.is_empty());
        assert_eq!(b.lines().count(), 0);
    }
}
