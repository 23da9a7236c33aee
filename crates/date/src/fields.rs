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

/// One template match: where group 1 (the date text) is and where each field is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DateMatch {
    /// Start of the whole match (fail2ban's "distance").
    pub(crate) start: usize,
    /// Span of group 1: the text cut out of the line.
    pub(crate) date: Span,
    /// Each field's span, indexed by `Field as usize`.
    pub(crate) fields: [Option<Span>; NFIELDS],
}

impl DateMatch {
    /// The text of `field` in `line`, if the field took part in the match.
    pub(crate) fn get<'l>(&self, line: &'l str, field: Field) -> Option<&'l str> {
        self.fields[field as usize].and_then(|(s, e)| line.get(s..e))
    }

    /// Records `field` at `span`.
    pub(crate) fn set(&mut self, field: Field, span: Span) {
        self.fields[field as usize] = Some(span);
    }
}
