//! Finding `<tag>`s in text, the way fail2ban's `<([^ <>]+)>` does.

/// A piece of text: either plain text or a tag (its name, without the angle brackets).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Text outside any tag.
    Text(&'a str),
    /// `<name>`: a non-empty name without spaces or angle brackets.
    Tag(&'a str),
}

/// Splits `text` into plain text and tags. A `<` that does not start a tag is plain text; in
/// `<<sender>>` the tag is the inner `<sender>`, as with fail2ban's regex.
pub(crate) fn pieces(text: &str) -> Pieces<'_> {
    Pieces { text, pos: 0 }
}

/// The iterator returned by [`pieces`].
pub(crate) struct Pieces<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        if start >= bytes.len() {
            return None;
        }
        let mut i = start;
        while i < bytes.len() {
            if bytes[i] == b'<' {
                if let Some(len) = tag_len(&bytes[i + 1..]) {
                    if i > start {
                        // Emit the text before the tag first; the tag comes next call.
                        self.pos = i;
                        return Some(Piece::Text(&self.text[start..i]));
                    }
                    self.pos = i + len + 2;
                    return Some(Piece::Tag(&self.text[i + 1..i + 1 + len]));
                }
            }
            i += 1;
        }
        self.pos = bytes.len();
        Some(Piece::Text(&self.text[start..]))
    }
}

/// The length of a tag name at the start of `rest` (just after a `<`), when a `>` closes it
/// before any space or `<`.
fn tag_len(rest: &[u8]) -> Option<usize> {
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'>' if i > 0 => return Some(i),
            b'>' | b'<' | b' ' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<Piece<'_>> {
        pieces(text).collect()
    }

    #[test]
    fn splits_text_and_tags() {
        assert_eq!(
            split("a <b> c<d>"),
            vec![
                Piece::Text("a "),
                Piece::Tag("b"),
                Piece::Text(" c"),
                Piece::Tag("d")
            ]
        );
    }

    #[test]
    fn innermost_tag_wins() {
        assert_eq!(
            split("<<sender>>"),
            vec![Piece::Text("<"), Piece::Tag("sender"), Piece::Text(">")]
        );
        assert_eq!(
            split("<mdre-<mode>>"),
            vec![Piece::Text("<mdre-"), Piece::Tag("mode"), Piece::Text(">")]
        );
    }

    #[test]
    fn not_tags() {
        assert_eq!(split("a < b > c"), vec![Piece::Text("a < b > c")]);
        assert_eq!(split("<>"), vec![Piece::Text("<>")]);
        assert_eq!(split("x<"), vec![Piece::Text("x<")]);
        assert_eq!(split(""), vec![]);
    }
}
