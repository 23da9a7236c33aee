//! The named pieces of a date match (`Y`, `m`, `d`, ...), as byte spans into the line.

/// A byte range `start..end` into the searched line.
pub(crate) type Span = (usize, usize);

/// The strptime groups fail2ban reads from a template match, plus the epoch group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Y4,
    Y2,
    Month,
    MonAbbr,
    MonFull,
    Day,
    Hour,
    Hour12,
    AmPm,
    Minute,
    Second,
    Frac,
    Offset,
    ZoneName,
    YearDay,
    WeekSun,
    WeekMon,
    WeekDay0,
    WeekDay1,
    /// The digits of `{EPOCH}`/`{LEPOCH}` inside a larger pattern.
    Epoch,
}

/// Number of [`Field`] values.
pub(crate) const NFIELDS: usize = 20;

impl Field {
    /// All fields with the group name the template regexes give them.
    pub(crate) const ALL: [(Field, &'static str); NFIELDS] = [
        (Field::Y4, "Y"),
        (Field::Y2, "y"),
        (Field::Month, "m"),
        (Field::MonAbbr, "b"),
        (Field::MonFull, "B"),
        (Field::Day, "d"),
        (Field::Hour, "H"),
        (Field::Hour12, "I"),
        (Field::AmPm, "p"),
        (Field::Minute, "M"),
        (Field::Second, "S"),
        (Field::Frac, "f"),
        (Field::Offset, "z"),
        (Field::ZoneName, "Z"),
        (Field::YearDay, "j"),
        (Field::WeekSun, "U"),
        (Field::WeekMon, "W"),
        (Field::WeekDay0, "w"),
        (Field::WeekDay1, "u"),
        (Field::Epoch, "__epoch"),
    ];

    /// The field a regex group name stands for, if any.
    pub(crate) fn from_group(name: &str) -> Option<Field> {
        Field::ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }
}

/// A field that did not take part in the match (see [`DateMatch::fields`]).
const ABSENT: [usize; 2] = [usize::MAX; 2];

/// One template match: where group 1 (the date text) is and where each field is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DateMatch {
    /// Start of the whole match (fail2ban's "distance").
    pub(crate) start: usize,
    /// Span of group 1: the text cut out of the line.
    pub(crate) date: Span,
    /// Each field's span `[start, end]`, indexed by `Field as usize`; `usize::MAX` twice
    /// when absent. Plain integers, not options: two matches compare as one `memcmp`
    /// (the conversion memo compares every hit's fields with the last ones).
    pub(crate) fields: [[usize; 2]; NFIELDS],
}

impl Default for DateMatch {
    fn default() -> DateMatch {
        DateMatch {
            start: 0,
            date: (0, 0),
            fields: [ABSENT; NFIELDS],
        }
    }
}

impl DateMatch {
    /// The span of `field`, if the field took part in the match.
    pub(crate) fn span(&self, field: Field) -> Option<Span> {
        let [s, e] = self.fields[field as usize];
        (s != usize::MAX).then_some((s, e))
    }

    /// The spans of the fields that took part in the match.
    pub(crate) fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        self.fields
            .iter()
            .filter(|f| f[0] != usize::MAX)
            .map(|f| (f[0], f[1]))
    }

    /// The text of `field` in `line`, if the field took part in the match.
    pub(crate) fn get<'l>(&self, line: &'l str, field: Field) -> Option<&'l str> {
        self.span(field).and_then(|(s, e)| line.get(s..e))
    }

    /// Records `field` at `span`.
    pub(crate) fn set(&mut self, field: Field, span: Span) {
        // `usize::MAX` is no position in a line held in memory.
        self.fields[field as usize] = [span.0, span.1];
    }
}
