//! The scanner of time expressions: the token grammar of PHP's "Supported Date and Time
//! Formats" and what each token sets in the parsed time.
//!
//! PHP reads an expression as a sequence of tokens: at each position the longest token of the
//! grammar wins (the earlier rule on a tie), its text is read into fields (year, month, day,
//! hour, minute, second, zone) and relative amounts (years … seconds, a weekday, "first/last day
//! of", "Nth weekday of", business days), and the next token starts where it ended. Spaces,
//! commas and dots between tokens are skipped; any other byte no rule accepts makes the whole
//! expression invalid, and so does a second date or a second time. The fields are combined with
//! "now" by [`super::eval`].

use std::sync::LazyLock;

use chrono_tz::Tz;

use super::pattern::{
    First, Pat, PositionSet, Positions, alpha, alt, ci, digit, lit, one_of, opt, plus, range, rep, seq, star, words,
};

/// A field the expression did not set.
pub(super) const UNSET: i64 = -9_999_999;

/// How the expression named a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ZoneKind {
    /// Not at all: the report's zone applies.
    None,
    /// A UTC offset (`+02:00`, `@` timestamps).
    Offset,
    /// An abbreviation (`EST`, `CEST`, `Z`).
    Abbr,
    /// A zone identifier (`Europe/Paris`), or the report's zone once filled in.
    Id,
}

/// `first day of` / `last day of`.
pub(super) const FIRST_DAY_OF: i64 = 1;
pub(super) const LAST_DAY_OF: i64 = 2;
/// Special relatives: business days, the Nth and the last weekday of a month.
pub(super) const SPECIAL_WEEKDAY: i64 = 1;
pub(super) const SPECIAL_NTH_WEEKDAY_OF: i64 = 2;
pub(super) const SPECIAL_LAST_WEEKDAY_OF: i64 = 3;

/// The relative part of an expression.
#[derive(Debug, Clone, Default)]
pub(super) struct Relative {
    pub y: i64,
    pub m: i64,
    pub d: i64,
    pub h: i64,
    pub i: i64,
    pub s: i64,
    pub us: i64,
    pub weekday: i64,
    pub weekday_behavior: i64,
    pub have_weekday: bool,
    pub have_special: bool,
    pub special_type: i64,
    pub special_amount: i64,
    pub first_last_day_of: i64,
}

/// What an expression says, before it meets "now".
#[derive(Debug, Clone)]
pub(super) struct Parsed {
    pub y: i64,
    pub m: i64,
    pub d: i64,
    pub h: i64,
    pub i: i64,
    pub s: i64,
    pub us: i64,
    /// The zone's offset in seconds (for offsets and abbreviations).
    pub z: i64,
    pub dst: i64,
    pub zone: ZoneKind,
    pub tz: Option<Tz>,
    pub have_time: i64,
    pub have_date: bool,
    pub have_zone: i64,
    pub have_relative: bool,
    /// Set by `@` timestamps.
    pub timestamp: bool,
    pub rel: Relative,
}

/// Weekdays, Sunday first (the number of each is its place here).
const DAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const DAYS_PLURAL: [&str; 7] = ["sundays", "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays"];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The expression is not one PHP reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Invalid;

type Step = Result<(), Invalid>;

#[derive(Debug, Clone, Copy)]
enum Rule {
    Yesterday,
    Now,
    Noon,
    MidnightToday,
    Tomorrow,
    Timestamp,
    TimestampMs,
    FirstLastDayOf,
    BackFrontOf,
    WeekdayOf,
    Time12,
    MssqlTime,
    Time24,
    GnuNoColon,
    IsoNoColon,
    American,
    IsoDate,
    IsoDate2,
    IsoDateX,
    GnuDateShorter,
    GnuDateShort,
    DateFull,
    PointedDate4,
    PointedDate2,
    DateNoDay,
    DateNoDayRev,
    DateTextual,
    DateNoYearRev,
    DateNoColon,
    XmlRpc,
    PgYearDay,
    IsoWeekDay,
    IsoWeek,
    PgTextShort,
    PgTextReverse,
    Clf,
    Year4,
    Ago,
    DayText,
    RelativeTextWeek,
    RelativeText,
    MonthName,
    Zone,
    DateShortTime12,
    DateShortTime24,
    Relative,
    Skip,
    Any,
}

/// The grammar, in rule order (the earlier rule wins a tie), each rule with the bytes its
/// tokens can begin with.
static RULES: LazyLock<Vec<(Rule, Pat, First)>> = LazyLock::new(|| {
    grammar()
        .into_iter()
        .map(|(rule, pattern)| {
            let first = pattern.first();
            (rule, pattern, first)
        })
        .collect()
});

#[allow(clippy::too_many_lines)] // one definition per format of PHP's documentation
fn grammar() -> Vec<(Rule, Pat)> {
    let space = || alt(vec![plus(one_of(" \t")), plus(lit("\u{a0}")), plus(lit("\u{202f}"))]);
    let frac = || seq(vec![lit("."), plus(digit())]);
    let t = || ci("t");
    let hour24 = || alt(vec![seq(vec![opt(one_of("01")), digit()]), seq(vec![lit("2"), range(b'0', b'4')])]);
    let hour24lz = || alt(vec![seq(vec![one_of("01"), digit()]), seq(vec![lit("2"), range(b'0', b'4')])]);
    let hour12 = || alt(vec![seq(vec![opt(lit("0")), range(b'1', b'9')]), seq(vec![lit("1"), range(b'0', b'2')])]);
    let minute = || seq(vec![opt(range(b'0', b'5')), digit()]);
    let minutelz = || seq(vec![range(b'0', b'5'), digit()]);
    let second = || alt(vec![minute(), lit("60")]);
    let secondlz = || alt(vec![minutelz(), lit("60")]);
    let meridian = || seq(vec![one_of("AaPp"), opt(lit(".")), one_of("Mm"), opt(lit(".")), one_of("\0\t ")]);
    let tz = || {
        alt(vec![
            seq(vec![opt(lit("(")), rep(alpha(), 1, 6), opt(lit(")"))]),
            seq(vec![range(b'A', b'Z'), plus(range(b'a', b'z')), plus(seq(vec![one_of("_/-"), plus(alpha())]))]),
        ])
    };
    let tzcorrection = || {
        seq(vec![
            opt(lit("GMT")),
            one_of("+-"),
            alt(vec![
                seq(vec![hour24(), opt(seq(vec![opt(lit(":")), minute()]))]),
                seq(vec![hour24lz(), minutelz(), secondlz()]),
                seq(vec![hour24lz(), lit(":"), minutelz(), lit(":"), secondlz()]),
            ]),
        ])
    };
    let daysuf = || alt(vec![lit("st"), lit("nd"), lit("rd"), lit("th")]);
    let month = || alt(vec![seq(vec![opt(lit("0")), digit()]), seq(vec![lit("1"), range(b'0', b'2')])]);
    let day = || {
        seq(vec![
            alt(vec![seq(vec![opt(range(b'0', b'2')), digit()]), seq(vec![lit("3"), one_of("01")])]),
            opt(daysuf()),
        ])
    };
    let year = || rep(digit(), 1, 4);
    let year2 = || rep(digit(), 2, 2);
    let year4 = || rep(digit(), 4, 4);
    let year4withsign = || seq(vec![opt(one_of("+-")), rep(digit(), 4, 4)]);
    let yearx = || seq(vec![one_of("+-"), rep(digit(), 5, 19)]);
    let dayofyear = || {
        alt(vec![
            seq(vec![lit("00"), range(b'1', b'9')]),
            seq(vec![lit("0"), range(b'1', b'9'), digit()]),
            seq(vec![range(b'1', b'2'), digit(), digit()]),
            seq(vec![lit("3"), range(b'0', b'5'), digit()]),
            seq(vec![lit("36"), range(b'0', b'6')]),
        ])
    };
    let weekofyear = || {
        alt(vec![
            seq(vec![lit("0"), range(b'1', b'9')]),
            seq(vec![range(b'1', b'4'), digit()]),
            seq(vec![lit("5"), range(b'0', b'3')]),
        ])
    };
    let monthlz = || alt(vec![seq(vec![lit("0"), digit()]), seq(vec![lit("1"), range(b'0', b'2')])]);
    let daylz = || {
        alt(vec![
            seq(vec![lit("0"), digit()]),
            seq(vec![range(b'1', b'2'), digit()]),
            seq(vec![lit("3"), one_of("01")]),
        ])
    };
    let dayfulls = || words(&DAYS_PLURAL);
    let dayfull = || words(&DAYS);
    let dayabbr = || alt(DAYS.iter().map(|d| ci(&d[..3])).collect());
    let daytext = || alt(vec![dayfulls(), dayfull(), dayabbr(), words(&["weekday", "weekdays"])]);
    let monthfull = || words(&MONTHS);
    let monthabbr = || alt(MONTHS.iter().map(|m| ci(&m[..3])).chain([ci("sept")]).collect());
    let monthroman = || {
        alt(["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"].into_iter().map(lit).collect())
    };
    let monthtext = || alt(vec![monthfull(), monthabbr(), monthroman()]);
    let time_sep = || one_of(":.");
    let timetiny12 = seq(vec![hour12(), opt(space()), meridian()]);
    let timeshort12 = || seq(vec![hour12(), time_sep(), minutelz(), opt(space()), meridian()]);
    let timelong12 = || seq(vec![hour12(), time_sep(), minute(), time_sep(), secondlz(), opt(space()), meridian()]);
    let timetiny24 = seq(vec![t(), hour24()]);
    let timeshort24 = || seq(vec![opt(t()), hour24(), time_sep(), minute()]);
    let timelong24 = || seq(vec![opt(t()), hour24(), time_sep(), minute(), time_sep(), second()]);
    let iso8601long = seq(vec![opt(t()), hour24(), time_sep(), minute(), time_sep(), second(), frac()]);
    let iso8601normtz = seq(vec![
        opt(t()),
        hour24(),
        time_sep(),
        minute(),
        time_sep(),
        secondlz(),
        opt(space()),
        alt(vec![tzcorrection(), tz()]),
    ]);
    let date_gap = || star(one_of(" .\t-"));
    let datenoyear = || seq(vec![monthtext(), date_gap(), day(), alt(vec![plus(one_of(",.stndrh\t ")), lit("\0")])]);
    let reltextnumber = || {
        words(&[
            "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eight", "eighth", "ninth", "tenth",
            "eleventh", "twelfth",
        ])
    };
    let reltexttext = || words(&["next", "last", "previous", "this"]);
    let reltextunit = || {
        alt(vec![
            ci("ms"),
            ci("µs"),
            seq(vec![
                words(&[
                    "msec",
                    "millisecond",
                    "µsec",
                    "microsecond",
                    "usec",
                    "sec",
                    "second",
                    "min",
                    "minute",
                    "hour",
                    "day",
                    "fortnight",
                    "forthnight",
                    "month",
                    "year",
                ]),
                opt(ci("s")),
            ]),
            ci("weeks"),
            daytext(),
        ])
    };
    let relnumber = seq(vec![star(one_of("+-")), star(one_of(" \t")), rep(digit(), 1, 13)]);

    vec![
        (Rule::Yesterday, ci("yesterday")),
        (Rule::Now, ci("now")),
        (Rule::Noon, ci("noon")),
        (Rule::MidnightToday, words(&["midnight", "today"])),
        (Rule::Tomorrow, ci("tomorrow")),
        (Rule::Timestamp, seq(vec![lit("@"), opt(lit("-")), plus(digit())])),
        (Rule::TimestampMs, seq(vec![lit("@"), opt(lit("-")), plus(digit()), lit("."), rep(digit(), 0, 6)])),
        (Rule::FirstLastDayOf, words(&["first day of", "last day of"])),
        (
            Rule::BackFrontOf,
            seq(vec![words(&["back of ", "front of "]), hour24(), opt(seq(vec![opt(space()), meridian()]))]),
        ),
        (
            Rule::WeekdayOf,
            seq(vec![
                alt(vec![reltextnumber(), reltexttext()]),
                space(),
                alt(vec![dayfulls(), dayfull(), dayabbr()]),
                space(),
                ci("of"),
            ]),
        ),
        (Rule::Time12, alt(vec![timetiny12, timeshort12(), timelong12()])),
        (
            Rule::MssqlTime,
            seq(vec![hour12(), lit(":"), minutelz(), lit(":"), secondlz(), time_sep(), plus(digit()), meridian()]),
        ),
        (Rule::Time24, alt(vec![timetiny24, timeshort24(), timelong24(), iso8601long])),
        (Rule::GnuNoColon, seq(vec![opt(t()), hour24lz(), minutelz()])),
        (Rule::IsoNoColon, seq(vec![opt(t()), hour24lz(), minutelz(), secondlz()])),
        (
            Rule::American,
            alt(vec![seq(vec![month(), lit("/"), day()]), seq(vec![month(), lit("/"), day(), lit("/"), year()])]),
        ),
        (
            Rule::IsoDate,
            alt(vec![
                seq(vec![year4withsign(), lit("-"), monthlz(), lit("-"), daylz()]),
                seq(vec![year4(), lit("/"), monthlz(), lit("/"), daylz(), opt(lit("/"))]),
                seq(vec![year4(), lit("/"), month(), lit("/"), day()]),
            ]),
        ),
        (Rule::IsoDate2, seq(vec![year2(), lit("-"), monthlz(), lit("-"), daylz()])),
        (Rule::IsoDateX, seq(vec![yearx(), lit("-"), monthlz(), lit("-"), daylz()])),
        (Rule::GnuDateShorter, seq(vec![year4(), lit("-"), month()])),
        (Rule::GnuDateShort, seq(vec![year(), lit("-"), month(), lit("-"), day()])),
        (Rule::DateFull, seq(vec![day(), star(one_of(" \t.-")), monthtext(), star(one_of(" \t.-")), year()])),
        (Rule::PointedDate4, seq(vec![day(), one_of(".\t-"), month(), one_of(".-"), year4()])),
        (Rule::PointedDate2, seq(vec![day(), one_of(".\t"), month(), lit("."), year2()])),
        (Rule::DateNoDay, seq(vec![monthtext(), date_gap(), year4()])),
        (Rule::DateNoDayRev, seq(vec![year4(), date_gap(), monthtext()])),
        (
            Rule::DateTextual,
            alt(vec![seq(vec![monthtext(), date_gap(), day(), plus(one_of(",.stndrh\t ")), year()]), datenoyear()]),
        ),
        (Rule::DateNoYearRev, seq(vec![day(), date_gap(), monthtext()])),
        (Rule::DateNoColon, seq(vec![year4(), monthlz(), daylz()])),
        (
            Rule::XmlRpc,
            alt(vec![
                seq(vec![year4(), monthlz(), daylz(), lit("T"), hour24(), lit(":"), minutelz(), lit(":"), secondlz()]),
                seq(vec![year4(), monthlz(), daylz(), t(), hour24(), minutelz(), secondlz()]),
                seq(vec![
                    year4(),
                    lit("-"),
                    monthlz(),
                    lit("-"),
                    daylz(),
                    lit("T"),
                    hour24lz(),
                    lit(":"),
                    minutelz(),
                    lit(":"),
                    secondlz(),
                    frac(),
                    opt(tzcorrection()),
                ]),
                seq(vec![
                    year4(),
                    lit("-"),
                    month(),
                    lit("-"),
                    day(),
                    lit("T"),
                    hour24(),
                    lit(":"),
                    minute(),
                    lit(":"),
                    second(),
                ]),
                seq(vec![
                    year4(),
                    lit(":"),
                    monthlz(),
                    lit(":"),
                    daylz(),
                    lit(" "),
                    hour24lz(),
                    lit(":"),
                    minutelz(),
                    lit(":"),
                    secondlz(),
                ]),
            ]),
        ),
        (Rule::PgYearDay, seq(vec![year4(), opt(one_of(".-")), dayofyear()])),
        (Rule::IsoWeekDay, seq(vec![year4(), opt(lit("-")), lit("W"), weekofyear(), opt(lit("-")), range(b'0', b'7')])),
        (Rule::IsoWeek, seq(vec![year4(), opt(lit("-")), lit("W"), weekofyear()])),
        (Rule::PgTextShort, seq(vec![monthabbr(), lit("-"), daylz(), lit("-"), year()])),
        (Rule::PgTextReverse, seq(vec![year(), lit("-"), monthabbr(), lit("-"), daylz()])),
        (
            Rule::Clf,
            seq(vec![
                day(),
                lit("/"),
                monthabbr(),
                lit("/"),
                year4(),
                lit(":"),
                hour24lz(),
                lit(":"),
                minutelz(),
                lit(":"),
                secondlz(),
                space(),
                tzcorrection(),
            ]),
        ),
        (Rule::Year4, year4()),
        (Rule::Ago, ci("ago")),
        (Rule::DayText, daytext()),
        (Rule::RelativeTextWeek, seq(vec![reltexttext(), space(), ci("week")])),
        (Rule::RelativeText, seq(vec![alt(vec![reltextnumber(), reltexttext()]), space(), reltextunit()])),
        (Rule::MonthName, alt(vec![monthfull(), monthabbr()])),
        (Rule::Zone, alt(vec![tzcorrection(), tz()])),
        (Rule::DateShortTime12, seq(vec![datenoyear(), alt(vec![timeshort12(), timelong12()])])),
        (Rule::DateShortTime24, seq(vec![datenoyear(), alt(vec![timeshort24(), timelong24(), iso8601normtz])])),
        (Rule::Relative, seq(vec![relnumber, opt(space()), alt(vec![reltextunit(), ci("week")])])),
        (Rule::Skip, alt(vec![one_of(".,"), space(), one_of("\0\n")])),
        (Rule::Any, Pat::Class(vec![(0, 255)])),
    ]
}

/// Reads an expression into its fields, or says PHP would refuse it.
pub(super) fn parse(text: &str) -> Result<Parsed, Invalid> {
    let trimmed = trim(text.as_bytes());
    if trimmed.is_empty() {
        return Err(Invalid);
    }
    let mut input = trimmed.to_vec();
    input.push(0);
    let mut parsed = Parsed::new();
    let mut at = 0;
    while at <= trimmed.len() {
        let (rule, end) = longest(&input, at);
        parsed.apply(rule, input.get(at..end).unwrap_or_default())?;
        at = end;
    }
    Ok(parsed)
}

/// C's `isspace` trimmed from both ends, as PHP does it: a string of white space alone keeps
/// its first character (and reads as "now").
fn trim(mut bytes: &[u8]) -> &[u8] {
    let space = |b: &u8| b.is_ascii_whitespace() || *b == 0x0b;
    while bytes.len() > 1 && bytes.first().is_some_and(space) {
        bytes = &bytes[1..];
    }
    while bytes.len() > 1 && bytes.last().is_some_and(space) {
        bytes = &bytes[..bytes.len() - 1];
    }
    bytes
}

/// The rule whose token starting at `at` is longest, and where that token ends.
fn longest(input: &[u8], at: usize) -> (Rule, usize) {
    let rest = input.get(at..).unwrap_or_default();
    // Bits for the usual short input; a set as long as the input past 127 bytes.
    let longest_in = |pattern: &Pat| -> Option<usize> {
        if rest.len() < 128 {
            pattern.ends(rest, &1u128).largest()
        } else {
            pattern.ends(rest, &Positions::single(rest.len(), 0)).largest()
        }
    };
    let mut best = (Rule::Any, at + 1);
    let mut best_len = 0;
    let next = usize::from(rest.first().copied().unwrap_or(0));
    for (rule, pattern, first) in RULES.iter() {
        if !first.bytes[next] && !first.empty {
            continue;
        }
        if let Some(len) = longest_in(pattern)
            && len > best_len
        {
            best = (*rule, at + len);
            best_len = len;
        }
    }
    best
}

/// A cursor over one token's text; past its end it reads NUL, as C reads a copied token.
struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> u8 {
        self.text.get(self.at).copied().unwrap_or(0)
    }

    fn peek_at(&self, ahead: usize) -> u8 {
        self.text.get(self.at + ahead).copied().unwrap_or(0)
    }

    fn bump(&mut self) {
        if self.peek() != 0 {
            self.at += 1;
        }
    }

    fn done(&self) -> bool {
        self.peek() == 0
    }

    /// The next number of at most `max` digits after any non-digits, and how many digits it had.
    fn number_with_len(&mut self, max: usize) -> (i64, usize) {
        while !self.peek().is_ascii_digit() {
            if self.done() {
                return (UNSET, 0);
            }
            self.bump();
        }
        let begin = self.at;
        while self.peek().is_ascii_digit() && self.at - begin < max {
            self.bump();
        }
        let digits = &self.text[begin..self.at];
        (saturating_decimal(digits), digits.len())
    }

    fn number(&mut self, max: usize) -> i64 {
        self.number_with_len(max).0
    }

    /// A number with any run of signs before it (each `-` flips it), of at most `max` digits.
    fn signed_number(&mut self, max: usize) -> Result<i64, Invalid> {
        while !self.peek().is_ascii_digit() && self.peek() != b'+' && self.peek() != b'-' {
            if self.done() {
                return Err(Invalid);
            }
            self.bump();
        }
        let mut negative = false;
        while matches!(self.peek(), b'+' | b'-') {
            negative ^= self.peek() == b'-';
            self.bump();
        }
        while !self.peek().is_ascii_digit() {
            if self.done() {
                return Err(Invalid);
            }
            self.bump();
        }
        let begin = self.at;
        while self.peek().is_ascii_digit() && self.at - begin < max {
            self.bump();
        }
        let magnitude: i128 = self.text[begin..self.at].iter().fold(0, |n, d| n * 10 + i128::from(d - b'0'));
        let value = if negative { -magnitude } else { magnitude };
        i64::try_from(value).map_err(|_| Invalid)
    }

    /// Microseconds from a fraction such as `.5` or `:123456`.
    fn fraction(&mut self) -> i64 {
        while !matches!(self.peek(), b'.' | b':') && !self.peek().is_ascii_digit() {
            if self.done() {
                return UNSET;
            }
            self.bump();
        }
        let begin = self.at;
        while matches!(self.peek(), b'.' | b':') || self.peek().is_ascii_digit() {
            self.bump();
        }
        let run = &self.text[begin..self.at];
        let value = leading_float(run.get(1..).unwrap_or_default());
        let exponent = 7 - i32::try_from(run.len()).unwrap_or(i32::MAX);
        truncate(value * 10f64.powi(exponent))
    }

    fn skip_day_suffix(&mut self) {
        if self.peek().is_ascii_whitespace() {
            return;
        }
        let pair = [self.peek().to_ascii_lowercase(), self.peek_at(1).to_ascii_lowercase()];
        if matches!(&pair, b"nd" | b"rd" | b"st" | b"th") {
            self.bump();
            self.bump();
        }
    }

    fn letters(&mut self) -> &[u8] {
        let begin = self.at;
        while self.peek().is_ascii_alphabetic() {
            self.bump();
        }
        &self.text[begin..self.at]
    }

    /// `first` … `twelfth`, `next`, `last`, `previous`, `this`: the amount, and the behaviour
    /// (`this` is 1, the others 0; a word not in the list leaves it as it was).
    fn relative_text(&mut self, behavior: &mut i64) -> i64 {
        while matches!(self.peek(), b' ' | b'\t' | b'-' | b'/') {
            self.bump();
        }
        let word = self.letters();
        let table: [(&str, i64); 17] = [
            ("first", 1),
            ("next", 1),
            ("second", 2),
            ("third", 3),
            ("fourth", 4),
            ("fifth", 5),
            ("sixth", 6),
            ("seventh", 7),
            ("eight", 8),
            ("eighth", 8),
            ("ninth", 9),
            ("tenth", 10),
            ("eleventh", 11),
            ("twelfth", 12),
            ("last", -1),
            ("previous", -1),
            ("this", 0),
        ];
        match table.iter().find(|(name, _)| word.eq_ignore_ascii_case(name.as_bytes())) {
            Some(&(name, amount)) => {
                *behavior = i64::from(name == "this");
                amount
            }
            None => 0,
        }
    }

    /// A month's name, abbreviation or Roman numeral; 0 if it is none.
    fn month_word(&mut self) -> i64 {
        let word = self.letters();
        const ROMAN: [&str; 12] = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"];
        let matches = |name: &str| word.eq_ignore_ascii_case(name.as_bytes());
        let found = (1..=12).zip(MONTHS.iter().zip(ROMAN)).find(|(number, (name, roman))| {
            matches(name) || matches(&name[..3]) || matches(roman) || (*number == 9 && matches("sept"))
        });
        found.map_or(0, |(number, _)| number)
    }

    fn month_after_separators(&mut self) -> i64 {
        while matches!(self.peek(), b' ' | b'\t' | b'-' | b'.' | b'/') {
            self.bump();
        }
        self.month_word()
    }

    fn eat_spaces(&mut self) {
        loop {
            if matches!(self.peek(), b' ' | b'\t') {
                self.bump();
            } else if self.text.get(self.at..self.at + 3) == Some("\u{202f}".as_bytes()) {
                self.at += 3;
            } else if self.text.get(self.at..self.at + 2) == Some("\u{a0}".as_bytes()) {
                self.at += 2;
            } else {
                break;
            }
        }
    }

    /// A unit word up to the next separator.
    fn unit(&mut self) -> Option<Unit> {
        let begin = self.at;
        while !matches!(self.peek(), 0 | b' ' | b',' | b'\t' | b';' | b':' | b'/' | b'.' | b'-' | b'(' | b')') {
            self.bump();
        }
        unit(&self.text[begin..self.at])
    }

    /// The hours `am`/`pm` adds to `hour`.
    fn meridian(&mut self, hour: i64) -> i64 {
        while !matches!(self.peek(), b'A' | b'a' | b'P' | b'p' | 0) {
            self.bump();
        }
        let morning = matches!(self.peek(), b'a' | b'A');
        let shift = match (morning, hour == 12) {
            (true, true) => -12,
            (false, false) => 12,
            _ => 0,
        };
        self.bump();
        for expected in [b'.', b'm', b'.'] {
            if self.peek().to_ascii_lowercase() == expected {
                self.bump();
            }
        }
        shift
    }
}

fn saturating_decimal(digits: &[u8]) -> i64 {
    let value: i128 = digits.iter().fold(0i128, |n, d| (n * 10 + i128::from(d - b'0')).min(i128::from(i64::MAX)));
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// What C's `strtod` reads from the start of `text` (digits, then a fraction).
fn leading_float(text: &[u8]) -> f64 {
    let mut end = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if text.get(end) == Some(&b'.') {
        end += 1 + text[end + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
    }
    std::str::from_utf8(&text[..end]).ok().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

#[allow(clippy::cast_possible_truncation)] // C's conversion of a double to an integer truncates
fn truncate(value: f64) -> i64 {
    value as i64
}

#[derive(Debug, Clone, Copy)]
enum UnitKind {
    Microsecond,
    Second,
    Minute,
    Hour,
    Day,
    Month,
    Year,
    Weekday,
    Special,
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    kind: UnitKind,
    multiplier: i64,
}

fn unit(word: &[u8]) -> Option<Unit> {
    use UnitKind::*;
    const UNITS: [(&str, UnitKind, i64); 36] = [
        ("ms", Microsecond, 1000),
        ("msec", Microsecond, 1000),
        ("msecs", Microsecond, 1000),
        ("millisecond", Microsecond, 1000),
        ("milliseconds", Microsecond, 1000),
        ("µs", Microsecond, 1),
        ("usec", Microsecond, 1),
        ("usecs", Microsecond, 1),
        ("µsec", Microsecond, 1),
        ("µsecs", Microsecond, 1),
        ("microsecond", Microsecond, 1),
        ("microseconds", Microsecond, 1),
        ("sec", Second, 1),
        ("secs", Second, 1),
        ("second", Second, 1),
        ("seconds", Second, 1),
        ("min", Minute, 1),
        ("mins", Minute, 1),
        ("minute", Minute, 1),
        ("minutes", Minute, 1),
        ("hour", Hour, 1),
        ("hours", Hour, 1),
        ("day", Day, 1),
        ("days", Day, 1),
        ("week", Day, 7),
        ("weeks", Day, 7),
        ("fortnight", Day, 14),
        ("fortnights", Day, 14),
        ("forthnight", Day, 14),
        ("forthnights", Day, 14),
        ("month", Month, 1),
        ("months", Month, 1),
        ("year", Year, 1),
        ("years", Year, 1),
        ("weekday", Special, SPECIAL_WEEKDAY),
        ("weekdays", Special, SPECIAL_WEEKDAY),
    ];
    if word.is_empty() {
        return None;
    }
    if let Some(&(_, kind, multiplier)) = UNITS.iter().find(|(name, _, _)| word.eq_ignore_ascii_case(name.as_bytes())) {
        return Some(Unit { kind, multiplier });
    }
    (0..7).zip(DAYS.iter().zip(DAYS_PLURAL)).find_map(|(number, (name, plural))| {
        let same = |candidate: &str| word.eq_ignore_ascii_case(candidate.as_bytes());
        (same(name) || same(&name[..3]) || same(plural)).then_some(Unit { kind: Weekday, multiplier: number })
    })
}

/// Year numbers of fewer than four digits: 0–69 are 2000–2069, 70–99 are 1970–1999.
fn full_year(year: i64, digits: usize) -> i64 {
    if year == UNSET || digits >= 4 || year >= 100 {
        year
    } else if year < 70 {
        year + 2000
    } else {
        year + 1900
    }
}

/// The day number, counted from 1 January of `year`, of day `weekday` (1–7) of ISO week `week`.
fn day_of_iso_week(year: i64, week: i64, weekday: i64) -> i64 {
    let january_first = super::eval::day_of_week(year, 1, 1);
    let start = -(if january_first > 4 { january_first - 7 } else { january_first });
    start + (week - 1) * 7 + weekday
}

fn add(into: &mut i64, amount: i64, multiplier: i64) -> Step {
    *into = amount.checked_mul(multiplier).and_then(|n| into.checked_add(n)).ok_or(Invalid)?;
    Ok(())
}

/// Whether a weekday relative resets the time of day (`monday`) or keeps it (`+1 monday`).
#[derive(PartialEq, Eq, Clone, Copy)]
enum TimePart {
    Keep,
    Reset,
}

impl Parsed {
    fn new() -> Self {
        Parsed {
            y: UNSET,
            m: UNSET,
            d: UNSET,
            h: UNSET,
            i: UNSET,
            s: UNSET,
            us: UNSET,
            z: UNSET,
            dst: UNSET,
            zone: ZoneKind::None,
            tz: None,
            have_time: 0,
            have_date: false,
            have_zone: 0,
            have_relative: false,
            timestamp: false,
            rel: Relative::default(),
        }
    }

    fn have_time(&mut self) -> Step {
        if self.have_time != 0 {
            return Err(Invalid);
        }
        self.have_time = 1;
        self.clear_time();
        Ok(())
    }

    fn unhave_time(&mut self) {
        self.have_time = 0;
        self.clear_time();
    }

    fn clear_time(&mut self) {
        (self.h, self.i, self.s, self.us) = (0, 0, 0, 0);
    }

    fn have_date(&mut self) -> Step {
        if self.have_date {
            return Err(Invalid);
        }
        self.have_date = true;
        Ok(())
    }

    fn unhave_date(&mut self) {
        self.have_date = false;
        (self.y, self.m, self.d) = (0, 0, 0);
    }

    /// A zone token: the first is taken, a second is ignored (PHP warns), a third is an error.
    fn have_zone(&mut self) -> Result<bool, Invalid> {
        if self.have_zone > 1 {
            return Err(Invalid);
        }
        self.have_zone += 1;
        Ok(self.have_zone == 1)
    }

    fn have_weekday_relative(&mut self) {
        self.have_relative = true;
        self.rel.have_weekday = true;
    }

    fn set_relative(&mut self, cursor: &mut Cursor<'_>, amount: i64, behavior: i64, time: TimePart) -> Step {
        let Some(unit) = cursor.unit() else { return Ok(()) };
        let rel = &mut self.rel;
        match unit.kind {
            UnitKind::Microsecond => add(&mut rel.us, amount, unit.multiplier),
            UnitKind::Second => add(&mut rel.s, amount, unit.multiplier),
            UnitKind::Minute => add(&mut rel.i, amount, unit.multiplier),
            UnitKind::Hour => add(&mut rel.h, amount, unit.multiplier),
            UnitKind::Day => add(&mut rel.d, amount, unit.multiplier),
            UnitKind::Month => add(&mut rel.m, amount, unit.multiplier),
            UnitKind::Year => add(&mut rel.y, amount, unit.multiplier),
            UnitKind::Weekday => {
                self.have_weekday_relative();
                if time == TimePart::Reset {
                    self.unhave_time();
                }
                let weeks = if amount > 0 { amount - 1 } else { amount };
                add(&mut self.rel.d, weeks, 7)?;
                self.rel.weekday = unit.multiplier;
                self.rel.weekday_behavior = behavior;
                Ok(())
            }
            UnitKind::Special => {
                self.have_relative = true;
                self.rel.have_special = true;
                if time == TimePart::Reset {
                    self.unhave_time();
                }
                self.rel.special_type = unit.multiplier;
                self.rel.special_amount = amount;
                Ok(())
            }
        }
    }

    /// A zone at the cursor: an offset, an abbreviation or a zone identifier; its offset (for
    /// offsets and abbreviations) is returned.
    fn zone(&mut self, cursor: &mut Cursor<'_>) -> Result<i64, Invalid> {
        while matches!(cursor.peek(), b' ' | b'\t' | b'(') {
            cursor.bump();
        }
        if cursor.text.get(cursor.at..cursor.at + 3) == Some(b"GMT") && matches!(cursor.peek_at(3), b'+' | b'-') {
            cursor.at += 3;
        }
        let offset = match cursor.peek() {
            sign @ (b'+' | b'-') => {
                cursor.bump();
                self.zone = ZoneKind::Offset;
                self.dst = 0;
                let magnitude = offset_correction(cursor).ok_or(Invalid)?;
                if sign == b'-' { -magnitude } else { magnitude }
            }
            _ => {
                let begin = cursor.at;
                while matches!(cursor.peek(), b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'_' | b'-' | b'+') {
                    cursor.bump();
                }
                let word = &cursor.text[begin..cursor.at];
                let mut found = false;
                let mut offset = 0;
                if word.len() < 6
                    && let Some((total, dst)) = abbreviation(word)
                {
                    found = true;
                    offset = total - dst * 3600;
                    self.dst = dst;
                    self.zone = ZoneKind::Abbr;
                }
                if (!found || word == b"UTC")
                    && let Some(tz) = zone_id(word)
                {
                    found = true;
                    self.tz = Some(tz);
                    self.zone = ZoneKind::Id;
                }
                if !found {
                    return Err(Invalid);
                }
                offset
            }
        };
        while cursor.peek() == b')' {
            cursor.bump();
        }
        Ok(offset)
    }

    #[allow(clippy::too_many_lines)] // one arm per rule of the grammar
    fn apply(&mut self, rule: Rule, token: &[u8]) -> Step {
        let mut c = Cursor { text: token, at: 0 };
        match rule {
            Rule::Yesterday | Rule::Tomorrow => {
                self.have_relative = true;
                self.unhave_time();
                self.rel.d = if matches!(rule, Rule::Yesterday) { -1 } else { 1 };
            }
            Rule::Now | Rule::Skip => {}
            Rule::Noon => {
                self.unhave_time();
                self.have_time()?;
                self.h = 12;
            }
            Rule::MidnightToday => self.unhave_time(),
            Rule::Timestamp | Rule::TimestampMs => {
                self.have_relative = true;
                self.unhave_date();
                self.unhave_time();
                if !self.have_zone()? {
                    return Ok(());
                }
                let negative = token.get(1) == Some(&b'-');
                let seconds = c.signed_number(24)?;
                let mut micros = 0;
                if matches!(rule, Rule::TimestampMs) {
                    let before = c.at;
                    let digits = c.signed_number(6)?;
                    let read = i32::try_from(c.at - before).unwrap_or(i32::MAX);
                    micros = truncate(digits as f64 * 10f64.powi(7 - read));
                    if negative {
                        micros = -micros;
                    }
                }
                (self.y, self.m, self.d) = (1970, 1, 1);
                self.clear_time();
                add(&mut self.rel.s, seconds, 1)?;
                if matches!(rule, Rule::TimestampMs) {
                    self.rel.us = micros;
                }
                self.zone = ZoneKind::Offset;
                self.z = 0;
                self.dst = 0;
                self.timestamp = true;
            }
            Rule::FirstLastDayOf => {
                self.have_relative = true;
                self.rel.first_last_day_of =
                    if matches!(token.first(), Some(b'l' | b'L')) { LAST_DAY_OF } else { FIRST_DAY_OF };
            }
            Rule::BackFrontOf => {
                self.unhave_time();
                self.have_time()?;
                if token.first() == Some(&b'b') {
                    self.h = c.number(2);
                    self.i = 15;
                } else {
                    self.h = c.number(2) - 1;
                    self.i = 45;
                }
                if !c.done() {
                    c.eat_spaces();
                    self.h += c.meridian(self.h);
                }
            }
            Rule::WeekdayOf => {
                self.have_relative = true;
                self.rel.have_special = true;
                let mut behavior = 0;
                let amount = c.relative_text(&mut behavior);
                c.eat_spaces();
                if amount > 0 {
                    self.rel.special_type = SPECIAL_NTH_WEEKDAY_OF;
                    self.set_relative(&mut c, amount, 1, TimePart::Reset)?;
                } else {
                    self.rel.special_type = SPECIAL_LAST_WEEKDAY_OF;
                    self.set_relative(&mut c, amount, behavior, TimePart::Reset)?;
                }
            }
            Rule::Time12 | Rule::MssqlTime => {
                self.have_time()?;
                self.h = c.number(2);
                if matches!(rule, Rule::MssqlTime) || matches!(c.peek(), b':' | b'.') {
                    self.i = c.number(2);
                }
                if matches!(c.peek(), b':' | b'.') {
                    self.s = c.number(2);
                    if matches!(rule, Rule::MssqlTime) && matches!(c.peek(), b':' | b'.') {
                        self.us = c.fraction();
                    }
                }
                c.eat_spaces();
                self.h += c.meridian(self.h);
            }
            Rule::Time24 => {
                self.have_time()?;
                self.h = c.number(2);
                if matches!(c.peek(), b':' | b'.') {
                    self.i = c.number(2);
                    if matches!(c.peek(), b':' | b'.') {
                        self.s = c.number(2);
                        if c.peek() == b'.' {
                            self.us = c.fraction();
                        }
                    }
                }
                if !c.done() {
                    self.z = self.zone(&mut c)?;
                }
            }
            Rule::GnuNoColon => {
                match self.have_time {
                    0 => {
                        self.h = c.number(2);
                        self.i = c.number(2);
                        self.s = 0;
                    }
                    1 => self.y = c.number(4),
                    _ => return Err(Invalid),
                }
                self.have_time += 1;
            }
            Rule::IsoNoColon => {
                self.have_time()?;
                self.h = c.number(2);
                self.i = c.number(2);
                self.s = c.number(2);
                if !c.done() {
                    self.z = self.zone(&mut c)?;
                }
            }
            Rule::American => {
                self.have_date()?;
                self.m = c.number(2);
                self.d = c.number(2);
                if c.peek() == b'/' {
                    let (year, digits) = c.number_with_len(4);
                    self.y = full_year(year, digits);
                }
            }
            Rule::IsoDate | Rule::IsoDateX => {
                self.have_date()?;
                self.y = c.signed_number(if matches!(rule, Rule::IsoDate) { 4 } else { 19 })?;
                self.m = c.number(2);
                self.d = c.number(2);
            }
            Rule::IsoDate2 | Rule::GnuDateShort | Rule::GnuDateShorter => {
                self.have_date()?;
                let (year, digits) = c.number_with_len(4);
                self.m = c.number(2);
                self.d = if matches!(rule, Rule::GnuDateShorter) { 1 } else { c.number(2) };
                self.y = full_year(year, digits);
            }
            Rule::DateFull => {
                self.have_date()?;
                self.d = c.number(2);
                c.skip_day_suffix();
                self.m = c.month_after_separators();
                let (year, digits) = c.number_with_len(4);
                self.y = full_year(year, digits);
            }
            Rule::PointedDate4 | Rule::PointedDate2 => {
                self.have_date()?;
                self.d = c.number(2);
                self.m = c.number(2);
                self.y = if matches!(rule, Rule::PointedDate4) {
                    c.number(4)
                } else {
                    let (year, digits) = c.number_with_len(2);
                    full_year(year, digits)
                };
            }
            Rule::DateNoDay | Rule::DateTextual | Rule::PgTextShort => {
                self.have_date()?;
                self.m = c.month_after_separators();
                if matches!(rule, Rule::DateNoDay) {
                    self.d = 1;
                } else {
                    self.d = c.number(2);
                }
                let (year, digits) = c.number_with_len(4);
                self.y = full_year(year, digits);
            }
            Rule::DateNoDayRev | Rule::PgTextReverse => {
                self.have_date()?;
                let (year, digits) = c.number_with_len(4);
                self.m = c.month_after_separators();
                self.d = if matches!(rule, Rule::DateNoDayRev) { 1 } else { c.number(2) };
                self.y = full_year(year, digits);
            }
            Rule::DateNoYearRev => {
                self.have_date()?;
                self.d = c.number(2);
                c.skip_day_suffix();
                self.m = c.month_after_separators();
            }
            Rule::DateNoColon => {
                self.have_date()?;
                self.y = c.number(4);
                self.m = c.number(2);
                self.d = c.number(2);
            }
            Rule::XmlRpc => {
                self.have_time()?;
                self.have_date()?;
                self.y = c.number(4);
                self.m = c.number(2);
                self.d = c.number(2);
                self.h = c.number(2);
                self.i = c.number(2);
                self.s = c.number(2);
                if c.peek() == b'.' {
                    self.us = c.fraction();
                    if !c.done() {
                        self.z = self.zone(&mut c)?;
                    }
                }
            }
            Rule::PgYearDay => {
                self.have_date()?;
                let (year, digits) = c.number_with_len(4);
                self.d = c.number(3);
                self.m = 1;
                self.y = full_year(year, digits);
            }
            Rule::IsoWeekDay | Rule::IsoWeek => {
                self.have_date()?;
                self.have_relative = true;
                self.y = c.number(4);
                let week = c.number(2);
                let weekday = if matches!(rule, Rule::IsoWeekDay) { c.number(1) } else { 1 };
                self.m = 1;
                self.d = 1;
                self.rel.d = day_of_iso_week(self.y, week, weekday);
            }
            Rule::Clf => {
                self.have_time()?;
                self.have_date()?;
                self.d = c.number(2);
                self.m = c.month_after_separators();
                self.y = c.number(4);
                self.h = c.number(2);
                self.i = c.number(2);
                self.s = c.number(2);
                c.eat_spaces();
                self.z = self.zone(&mut c)?;
            }
            Rule::Year4 => self.y = c.number(4),
            Rule::Ago => {
                let rel = &mut self.rel;
                for field in [&mut rel.y, &mut rel.m, &mut rel.d, &mut rel.h, &mut rel.i, &mut rel.s] {
                    *field = field.checked_neg().ok_or(Invalid)?;
                }
                rel.weekday = -rel.weekday;
                if rel.weekday == 0 {
                    rel.weekday = -7;
                }
                if rel.have_special && rel.special_type == SPECIAL_WEEKDAY {
                    rel.special_amount = rel.special_amount.checked_neg().ok_or(Invalid)?;
                }
            }
            Rule::DayText => {
                self.have_weekday_relative();
                self.unhave_time();
                if let Some(unit) = c.unit() {
                    self.rel.weekday = unit.multiplier;
                }
                if self.rel.weekday_behavior != 2 {
                    self.rel.weekday_behavior = 1;
                }
            }
            Rule::RelativeTextWeek | Rule::RelativeText => {
                self.have_relative = true;
                while !c.done() {
                    let before = c.at;
                    let mut behavior = 0;
                    let amount = c.relative_text(&mut behavior);
                    c.eat_spaces();
                    self.set_relative(&mut c, amount, behavior, TimePart::Reset)?;
                    if matches!(rule, Rule::RelativeTextWeek) {
                        self.rel.weekday_behavior = 2;
                        if !self.rel.have_weekday {
                            self.have_weekday_relative();
                            self.rel.weekday = 1;
                        }
                    }
                    if c.at == before {
                        break;
                    }
                }
            }
            Rule::MonthName => {
                self.have_date()?;
                self.m = c.month_word();
            }
            Rule::Zone => {
                if self.have_zone()? {
                    c.eat_spaces();
                    self.z = self.zone(&mut c)?;
                }
            }
            Rule::DateShortTime12 | Rule::DateShortTime24 => {
                self.have_date()?;
                self.m = c.month_after_separators();
                self.d = c.number(2);
                self.have_time()?;
                self.h = c.number(2);
                self.i = c.number(2);
                let twelve = matches!(rule, Rule::DateShortTime12);
                if c.peek() == b':' || (twelve && c.peek() == b'.') {
                    self.s = c.number(2);
                    if c.peek() == b'.' {
                        self.us = c.fraction();
                    }
                }
                if twelve {
                    self.h += c.meridian(self.h);
                } else if !c.done() {
                    self.z = self.zone(&mut c)?;
                }
            }
            Rule::Relative => {
                self.have_relative = true;
                while !c.done() {
                    let before = c.at;
                    let amount = c.signed_number(24)?;
                    c.eat_spaces();
                    self.set_relative(&mut c, amount, 1, TimePart::Keep)?;
                    if c.at == before {
                        break;
                    }
                }
            }
            Rule::Any => return Err(Invalid),
        }
        Ok(())
    }
}

/// The offset after a `+` or `-`: `H`, `HH`, `H:MM`, `HHMM`, `HH:MM`, `HHMMSS`, `HH:MM:SS`.
fn offset_correction(cursor: &mut Cursor<'_>) -> Option<i64> {
    let begin = cursor.at;
    while cursor.peek().is_ascii_digit() || cursor.peek() == b':' {
        cursor.bump();
    }
    let run = &cursor.text[begin..cursor.at];
    // C's strtol: the leading digits of a slice.
    let lead = |from: usize| -> i64 {
        let digits: Vec<u8> = run.iter().skip(from).take_while(|b| b.is_ascii_digit()).copied().collect();
        saturating_decimal(&digits)
    };
    let colon_at = |k: usize| run.get(k) == Some(&b':');
    match run.len() {
        1 | 2 => Some(lead(0) * 3600),
        3 | 4 if colon_at(1) => Some(lead(0) * 3600 + lead(2) * 60),
        3 | 4 if colon_at(2) => Some(lead(0) * 3600 + lead(3) * 60),
        3 | 4 => {
            let n = lead(0);
            Some(n / 100 * 3600 + n % 100 * 60)
        }
        5 if colon_at(2) => Some(lead(0) * 3600 + lead(3) * 60),
        6 => {
            let n = lead(0);
            Some(n / 10000 * 3600 + (n / 100) % 100 * 60 + n % 100)
        }
        8 if colon_at(2) && colon_at(5) => Some(lead(0) * 3600 + lead(3) * 60 + lead(6)),
        _ => None,
    }
}

/// The abbreviations PHP knows, with the offset and DST flag it applies (generated from PHP by
/// `data/tz-abbreviations.php`).
static ABBREVIATIONS: LazyLock<Vec<(String, i64, i64)>> = LazyLock::new(|| {
    include_str!("../../data/tz-abbreviations.tsv")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let name = cols.next()?.to_owned();
            let offset = cols.next()?.parse().ok()?;
            let dst = cols.next()?.parse().ok()?;
            Some((name, offset, dst))
        })
        .collect()
});

fn abbreviation(word: &[u8]) -> Option<(i64, i64)> {
    if word.eq_ignore_ascii_case(b"utc") || word.eq_ignore_ascii_case(b"gmt") {
        return Some((0, 0));
    }
    ABBREVIATIONS.iter().find(|(name, _, _)| word.eq_ignore_ascii_case(name.as_bytes())).map(|&(_, o, d)| (o, d))
}

fn zone_id(word: &[u8]) -> Option<Tz> {
    let name = std::str::from_utf8(word).ok()?;
    chrono_tz::TZ_VARIANTS.iter().find(|tz| tz.name().eq_ignore_ascii_case(name)).copied()
}
