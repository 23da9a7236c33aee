//! `jailor regex`: fail2ban-regex's equivalent. Runs a filter (or a failregex given on the
//! command line) over a log file or a line and reports what it finds.
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use jailor_config::{FilterSpec, Loader};
use jailor_date::{DateDetector, Zone};
use jailor_match::{Failure, Filter, FilterOptions, LineBlock, Pipeline, Processed, UseDns, Value};

mod journal;

/// How many ignored/missed lines the report lists before saying "too many to print".
const PRINT_LIMIT: usize = 20;
/// Files bigger than this get a progress bar on a terminal's stderr.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// `jailor regex`'s arguments (fail2ban-regex's, plus `--now` and `--json`).
#[derive(Debug, clap::Args)]
pub struct RegexArgs {
    /// A log file, or a log line (several lines when it contains newlines).
    pub log: String,
    /// A filter name (`sshd`, `sshd[mode=aggressive]`), a filter file, or a failregex.
    pub regex: String,
    /// An ignoreregex, or a filter file whose ignoreregex to use.
    pub ignoreregex: Option<String>,
    /// The configuration folder FILTER names resolve in (default /etc/fail2ban).
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
    /// A datepattern replacing the filter's.
    #[arg(short = 'd', long = "datepattern")]
    pub datepattern: Option<String>,
    /// Time zone of dates without one (fail2ban's `logtimezone`).
    #[arg(long = "timezone", visible_alias = "TZ")]
    pub timezone: Option<String>,
    /// The log's encoding: UTF-8 (default) or Latin-1.
    #[arg(short = 'e', long = "encoding")]
    pub encoding: Option<String>,
    /// Raw hosts: never resolve names (`usedns = raw`).
    #[arg(short = 'r', long = "raw")]
    pub raw: bool,
    /// `usedns` for `<HOST>` (yes, warn, no, raw).
    #[arg(long = "usedns")]
    pub usedns: Option<String>,
    /// maxlines for multi-line regexes.
    #[arg(short = 'L', long = "maxlines")]
    pub maxlines: Option<usize>,
    /// Log type given to the filter (`file` or `journal`).
    #[arg(long = "log-type")]
    pub log_type: Option<String>,
    /// The journal entries to read when LOG is `systemd-journal[...]` (`FIELD=value` words,
    /// `+` between alternatives); default: the filter's journalmatch.
    #[arg(short = 'm', long = "journalmatch")]
    pub journalmatch: Option<String>,
    /// Log level (accepted for fail2ban-regex compatibility).
    #[arg(short = 'l', long = "log-level")]
    pub log_level: Option<String>,
    /// More detail: every regex, each hit's address and time.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Stop at the first matching failregex, as the server does.
    #[arg(long = "no-check-all")]
    pub no_check_all: bool,
    /// Print only this per failure: `ip`, `id`/`fid`, `msg`, `row`, `time`, a data key
    /// (`user`, `F-USER`...), or a template such as `<ip> <F-USER>`.
    #[arg(short = 'o', long = "out")]
    pub out: Option<String>,
    /// Do not list missed lines.
    #[arg(long = "print-no-missed")]
    pub print_no_missed: bool,
    /// Do not list ignored lines.
    #[arg(long = "print-no-ignored")]
    pub print_no_ignored: bool,
    /// List every matched line.
    #[arg(long = "print-all-matched")]
    pub print_all_matched: bool,
    /// List every missed line, however many.
    #[arg(long = "print-all-missed")]
    pub print_all_missed: bool,
    /// List every ignored line, however many.
    #[arg(long = "print-all-ignored")]
    pub print_all_ignored: bool,
    /// Treat TIME (epoch seconds or `YYYY-MM-DD[ HH:MM:SS]`) as the current time.
    #[arg(long = "now")]
    pub now: Option<String>,
    /// One JSON object per failure, then one summary object.
    #[arg(long = "json")]
    pub json: bool,
    /// Threads searching lines (default: the number of CPUs, at most 4).
    #[arg(long = "threads")]
    pub threads: Option<usize>,
}

/// What the regexes came from, for the report header.
struct Source {
    /// `Use             jail : sshd` or `Use   failregex line : ...`.
    header: Vec<(String, String)>,
    spec: FilterSpec,
}

fn is_filter_name(s: &str) -> bool {
    let name = s.split('[').next().unwrap_or(s);
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b))
        && (!s.contains('[') || s.ends_with(']'))
}

fn empty_spec(name: &str) -> FilterSpec {
    FilterSpec {
        name: name.to_owned(),
        args: Default::default(),
        prefregex: None,
        failregex: Vec::new(),
        ignoreregex: Vec::new(),
        datepattern: None,
        maxlines_raw: None,
        journalmatch: Vec::new(),
        usedns: None,
        logtimezone: None,
        options: Default::default(),
        from_init: Vec::new(),
        warnings: Vec::new(),
    }
}

/// FILTER as a file, a name in `conf/filter.d`, or else a failregex string.
fn resolve_filter(arg: &str, conf: &Path, backend: &str) -> anyhow::Result<Source> {
    let loader = Loader::new(conf);
    let path = Path::new(arg);
    if path.is_file() {
        let spec = loader
            .load_filter(arg, backend)
            .with_context(|| format!("cannot read filter file {arg}"))?;
        return Ok(Source {
            header: vec![("filter file".into(), arg.to_owned())],
            spec,
        });
    }
    if is_filter_name(arg) {
        let name = arg.split('[').next().unwrap_or(arg);
        let dir = conf.join("filter.d");
        if dir.join(format!("{name}.conf")).is_file() || dir.join(format!("{name}.local")).is_file()
        {
            let spec = loader
                .load_filter(arg, backend)
                .with_context(|| format!("cannot read filter {arg} in {}", conf.display()))?;
            let header = vec![(
                "  failregex filter file".into(),
                format!("{name}, basedir: {}", conf.display()),
            )];
            return Ok(Source { header, spec });
        }
    }
    let mut spec = empty_spec("failregex");
    spec.failregex = vec![arg.to_owned()];
    Ok(Source {
        header: vec![("failregex line".into(), arg.to_owned())],
        spec,
    })
}

/// IGNOREREGEX as a filter file (its ignoreregex) or a regex string.
fn resolve_ignore(arg: &str, conf: &Path, backend: &str) -> anyhow::Result<Vec<String>> {
    if Path::new(arg).is_file() {
        let spec = Loader::new(conf)
            .load_filter(arg, backend)
            .with_context(|| format!("cannot read filter file {arg}"))?;
        return Ok(spec.ignoreregex);
    }
    Ok(vec![arg.to_owned()])
}

/// `--now`: epoch seconds, or a local date `YYYY-MM-DD[ HH:MM[:SS]]`.
fn parse_now(s: &str) -> anyhow::Result<f64> {
    if let Ok(t) = s.trim().parse::<f64>() {
        return Ok(t);
    }
    let s = s.trim().replace('T', " ");
    let dt: jiff::civil::DateTime = match s.len() {
        10 => format!("{s} 00:00:00").parse(),
        16 => format!("{s}:00").parse(),
        _ => s.parse(),
    }
    .with_context(|| format!("--now: not a time: {s}"))?;
    let ts = jiff::tz::TimeZone::system()
        .to_timestamp(dt)
        .with_context(|| format!("--now: not a local time: {s}"))?;
    Ok(ts.as_millisecond() as f64 / 1000.0)
}

#[derive(Clone, Copy)]
enum Encoding {
    Utf8,
    Latin1,
}

fn parse_encoding(e: Option<&str>) -> anyhow::Result<Encoding> {
    let Some(e) = e else {
        return Ok(Encoding::Utf8);
    };
    match e.to_ascii_lowercase().replace('_', "-").as_str() {
        "utf-8" | "utf8" | "ascii" | "us-ascii" | "auto" => Ok(Encoding::Utf8),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "cp819" => Ok(Encoding::Latin1),
        other => bail!("unsupported encoding '{other}' (UTF-8 or Latin-1)"),
    }
}

fn decode(bytes: &[u8], enc: Encoding) -> Cow<'_, str> {
    match enc {
        Encoding::Utf8 => String::from_utf8_lossy(bytes),
        Encoding::Latin1 => match std::str::from_utf8(bytes) {
            Ok(s) if s.is_ascii() => Cow::Borrowed(s),
            _ => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
        },
    }
}

/// Everything the run is built from.
struct Setup {
    pipeline: Pipeline,
    source: Source,
    failregex: Vec<String>,
    ignoreregex: Vec<String>,
    maxlines: usize,
    datepattern: Option<String>,
    usedns: UseDns,
}

fn setup(args: &RegexArgs) -> anyhow::Result<Setup> {
    // Without -c: /etc/jailor when installed, else the embedded default (kept alive here).
    let base = crate::cli::config_base(args.config.clone())?;
    let conf = base.path().to_path_buf();
    let backend = match args.log_type.as_deref() {
        Some("journal") => "systemd",
        _ if journal::is_journal(&args.log) => "systemd",
        _ => "auto",
    };
    let source = resolve_filter(&args.regex, &conf, backend)?;
    let spec = &source.spec;
    let mut ignoreregex = spec.ignoreregex.clone();
    if let Some(i) = &args.ignoreregex {
        ignoreregex.extend(resolve_ignore(i, &conf, backend)?);
    }
    let maxlines = match args.maxlines {
        Some(n) => n,
        None => match spec.maxlines() {
            None => 1,
            Some(Some(n)) if n > 0 => n as usize,
            Some(_) => bail!(
                "maxlines: not a positive number: {}",
                spec.maxlines_raw.as_deref().unwrap_or("")
            ),
        },
    };
    let usedns = if args.raw {
        UseDns::Raw
    } else {
        match args.usedns.as_deref().or(spec.usedns.as_deref()) {
            Some(u) => u.parse().with_context(|| format!("usedns '{u}'"))?,
            None => UseDns::Warn,
        }
    };
    let opts = FilterOptions {
        prefregex: spec.prefregex.clone(),
        failregex: spec.failregex.clone(),
        ignoreregex: ignoreregex.clone(),
        maxlines,
        usedns,
        check_all: args.out.is_none() && !args.no_check_all,
        exact_stats: args.out.is_none() && !args.json,
        ..FilterOptions::default()
    };
    let mut filter = Filter::new(opts).context("cannot compile the filter")?;
    // Only `-o` with `<msg>`/`<matches>` prints a failure's matched lines: else none is copied.
    filter.set_keep_matches(args.out.as_deref().is_some_and(reads_matches));
    let datepattern = args.datepattern.clone().or(spec.datepattern.clone());
    let mut detector = DateDetector::new(datepattern.as_deref())
        .with_context(|| format!("datepattern {:?}", datepattern.as_deref().unwrap_or("")))?;
    if let Some(tz) = args.timezone.as_deref().or(spec.logtimezone.as_deref()) {
        detector.set_zone(Zone::parse(tz).with_context(|| format!("time zone '{tz}'"))?);
    }
    let mut pipeline = Pipeline::new(filter, detector);
    // One "now" for the run (fail2ban-regex reads the clock per line; a run is short).
    let now = match &args.now {
        Some(now) => parse_now(now)?,
        None => jiff::Timestamp::now().as_millisecond() as f64 / 1000.0,
    };
    pipeline.set_now(Some(now));
    Ok(Setup {
        pipeline,
        failregex: source.spec.failregex.clone(),
        source,
        ignoreregex,
        maxlines,
        datepattern,
        usedns,
    })
}

/// Where the lines come from.
enum Input {
    File(PathBuf, u64),
    Text(String),
    Journal(jailor_tail::JournalOptions),
}

/// Lines seen, by what became of them.
#[derive(Default)]
struct Tally {
    lines: u64,
    matched: u64,
    ignored: u64,
    missed: u64,
    fail_hits: Vec<u64>,
    matched_lines: Vec<String>,
    ignored_lines: Vec<String>,
    missed_lines: Vec<String>,
    verbose_hits: Vec<Vec<String>>,
}

/// Keeps up to `limit + 1` items (enough to know there were too many), or all of them.
fn keep(list: &mut Vec<String>, all: bool, line: &str) {
    if all || list.len() <= PRINT_LIMIT {
        list.push(line.to_owned());
    }
}

/// Whether `-o`'s format (a key or a template) reads a failure's matched lines.
fn reads_matches(fmt: &str) -> bool {
    fmt.contains("msg") || fmt.contains("matches")
}

/// `-o`'s rendering of one failure.
fn render(fmt: &str, f: &Failure) -> String {
    let ip = || f.ip.as_ref().unwrap_or(&f.id).to_string();
    let time = || {
        if f.time.is_nan() {
            "None".to_owned()
        } else {
            format!("{:?}", f.time)
        }
    };
    let field = |k: &str| -> String {
        let key = k
            .strip_prefix("F-")
            .map_or(k.to_owned(), str::to_ascii_lowercase);
        let key = match key.as_str() {
            "id" => "fid".to_owned(),
            "port" => "fport".to_owned(),
            _ => key,
        };
        match f.fields.get(&key) {
            Some(Value::Text(t)) => t.clone(),
            Some(Value::Tuple(t)) => format!("{t:?}"),
            None => "None".to_owned(),
        }
    };
    let one = |k: &str| -> String {
        match k {
            "ip" | "host" => ip(),
            "id" | "fid" => f.id.to_string(),
            "msg" | "matches" => f.matches.join("\n"),
            "time" => time(),
            "row" => format!("[{:?},\t{},\t{}]", f.id.to_string(), time(), json_fields(f)),
            k => field(k),
        }
    };
    if !fmt.contains('<') {
        return one(fmt);
    }
    // A template: replace every <tag> fail2ban-regex knows.
    let mut out = String::new();
    let mut rest = fmt;
    while let Some(s) = rest.find('<') {
        out.push_str(&rest[..s]);
        match rest[s..].find('>') {
            Some(e) => {
                out.push_str(&one(&rest[s + 1..s + e]));
                rest = &rest[s + e + 1..];
            }
            None => {
                out.push_str(&rest[s..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Text(t) => serde_json::Value::String(t.clone()),
        Value::Tuple(t) => serde_json::Value::Array(
            t.iter()
                .map(|x| x.clone().map_or(serde_json::Value::Null, Into::into))
                .collect(),
        ),
    }
}

fn json_fields(f: &Failure) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = f
        .fields
        .iter()
        .map(|(k, v)| (k.to_owned(), value_json(v)))
        .collect();
    serde_json::Value::Object(map)
}

fn failure_json(lineno: u64, f: &Failure) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("lineno".into(), lineno.into());
    o.insert(
        "time".into(),
        if f.time.is_nan() {
            serde_json::Value::Null
        } else {
            f.time.into()
        },
    );
    o.insert(
        "host".into(),
        f.ip.as_ref().unwrap_or(&f.id).to_string().into(),
    );
    o.insert("fid".into(), f.id.to_string().into());
    o.insert(
        "user".into(),
        f.user.clone().map_or(serde_json::Value::Null, Into::into),
    );
    o.insert("nofail".into(), f.nofail.into());
    for (k, v) in f.fields.iter() {
        if !o.contains_key(k) {
            o.insert(k.to_owned(), value_json(v));
        }
    }
    serde_json::Value::Object(o)
}

struct Progress {
    total: u64,
    done: u64,
    shown: u64,
    on: bool,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            done: 0,
            shown: 0,
            on: total >= PROGRESS_MIN_BYTES && io::stderr().is_terminal(),
        }
    }

    fn add(&mut self, n: usize) {
        self.done += n as u64;
        if self.on && self.done - self.shown >= self.total / 100 {
            self.shown = self.done;
            let pct = self.done * 100 / self.total.max(1);
            let bar = "#".repeat((pct / 2) as usize);
            eprint!("\r[{bar:<50}] {pct:3}%");
        }
    }

    fn finish(&self) {
        if self.on {
            eprint!("\r{:60}\r", "");
        }
    }
}

/// Runs `jailor regex`.
pub fn run(args: RegexArgs) -> anyhow::Result<ExitCode> {
    let encoding = parse_encoding(args.encoding.as_deref())?;
    let mut s = setup(&args)?;
    let input = match std::fs::metadata(&args.log) {
        _ if journal::is_journal(&args.log) => {
            Input::Journal(journal::options(&args, &s.source.spec.journalmatch)?)
        }
        Ok(m) if m.is_file() => Input::File(PathBuf::from(&args.log), m.len()),
        _ => Input::Text(args.log.clone()),
    };
    let started = Instant::now();
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut tally = Tally {
        fail_hits: vec![0; s.failregex.len()],
        verbose_hits: vec![Vec::new(); s.failregex.len()],
        ..Tally::default()
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
    let mut on_result = |lineno: u64, line: &str, p: Processed, out: &mut dyn Write| {
        tally.lines += 1;
        for f in &p.failures {
            if args.json {
                writeln!(out, "{}", failure_json(lineno, f))?;
            } else if let Some(fmt) = &args.out {
                match fmt.as_str() {
                    // The common case written straight out, without a String per failure.
                    "ip" | "host" => write_id_line(out, f.ip.as_ref().unwrap_or(&f.id))?,
                    _ => writeln!(out, "{}", render(fmt, f))?,
                }
            }
            if let Some(h) = tally.fail_hits.get_mut(f.regex_index) {
                *h += 1;
            }
            if args.verbose > 0 {
                if let Some(v) = tally.verbose_hits.get_mut(f.regex_index) {
                    v.push(format!("{}  {}", render("ip", f), verbose_time(f.time)));
                }
            }
        }
        if args.out.is_some() || args.json {
            return io::Result::Ok(());
        }
        if p.failures.iter().any(|f| !f.nofail) {
            tally.matched += 1;
            if args.print_all_matched {
                tally.matched_lines.push(line.to_owned());
            }
        } else if !p.failures.is_empty() || p.ignored {
            tally.ignored += 1;
            if !args.print_no_ignored {
                keep(&mut tally.ignored_lines, args.print_all_ignored, line);
            }
        } else {
            tally.missed += 1;
            if !args.print_no_missed {
                keep(&mut tally.missed_lines, args.print_all_missed, line);
            }
        }
        Ok(())
    };
    let pipeline = &mut s.pipeline;
    let mut emit =
        |b: &LineBlock, i: usize, p: Processed| on_result(b.tag(i), b.line(i), p, &mut out);
    match &input {
        Input::Text(t) => {
            let mut lines = Some(t.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)));
            let mut lineno = 0u64;
            pipeline.process_blocks(
                threads,
                |b| {
                    for l in lines.take().into_iter().flatten() {
                        lineno += 1;
                        if !is_comment(l) {
                            b.push(l, lineno);
                        }
                    }
                    Ok(())
                },
                &mut emit,
            )?;
        }
        Input::File(path, size) => {
            let file =
                File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let mut progress = Progress::new(*size);
            let mut reader = BlockReader::new(file, encoding);
            pipeline
                .process_blocks(
                    threads,
                    |b| {
                        let n = reader.fill(b)?;
                        progress.add(n);
                        Ok(())
                    },
                    &mut emit,
                )
                .with_context(|| format!("cannot read {}", path.display()))?;
            progress.finish();
        }
        Input::Journal(o) => journal::read(o, pipeline, &mut out, &mut on_result)?,
    }
    let elapsed = started.elapsed().as_secs_f64();
    if args.json {
        let stats = s.pipeline.filter().stats();
        let summary = serde_json::json!({"summary": {
            "lines": tally.lines,
            "failures": tally.fail_hits.iter().sum::<u64>(),
            "failregex_hits": tally.fail_hits,
            "ignoreregex_hits": s.pipeline.filter().ignoreregex_hits(),
            "prefiltered": stats.prefiltered,
            "prefregex_matched": stats.pref_matched,
            "cut_lines": stats.cut_lines,
            "limit_hits": stats.limit_hits,
            "seconds": elapsed,
        }});
        writeln!(out, "{summary}")?;
    } else if args.out.is_none() {
        report(&mut out, &args, &s, &input, encoding, &tally, elapsed)?;
    }
    out.flush()?;
    let _ = &mut s;
    Ok(ExitCode::SUCCESS)
}

/// Writes `id` and a newline; an IPv4 address without the formatting machinery (`-o ip`
/// prints one per failure).
fn write_id_line(out: &mut dyn Write, id: &jailor_match::FailureId) -> io::Result<()> {
    let jailor_match::FailureId::Addr(std::net::IpAddr::V4(a)) = id else {
        return writeln!(out, "{id}");
    };
    let mut buf = [0u8; 16];
    let mut n = 0;
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    buf[n] = b'\n';
    out.write_all(&buf[..=n])
}

/// Comment and blank lines are skipped (and not counted), as by fail2ban-regex.
fn is_comment(l: &str) -> bool {
    l.starts_with('#') || l.trim().is_empty()
}

/// Reads a file in big blocks of complete lines (without their endings, decoded), numbered.
struct BlockReader {
    file: File,
    enc: Encoding,
    buf: Vec<u8>,
    filled: usize,
    eof: bool,
    lineno: u64,
}

impl BlockReader {
    /// Bytes read at a time: small enough that the blocks in flight and their search
    /// results stay small.
    const BLOCK: usize = 64 << 10;

    fn new(file: File, enc: Encoding) -> BlockReader {
        BlockReader {
            file,
            enc,
            buf: vec![0u8; Self::BLOCK],
            filled: 0,
            eof: false,
            lineno: 0,
        }
    }

    /// Puts the next block's lines into `block` (left empty at the end of the file) and
    /// returns the bytes consumed.
    fn fill(&mut self, block: &mut LineBlock) -> io::Result<usize> {
        loop {
            while !self.eof && self.filled < self.buf.len() {
                let n = self.file.read(&mut self.buf[self.filled..])?;
                self.eof = n == 0;
                self.filled += n;
            }
            if self.filled == 0 {
                return Ok(0);
            }
            // Complete lines; at the end of the file the rest is one too.
            let complete = match memchr::memrchr(b'\n', &self.buf[..self.filled]) {
                _ if self.eof => self.filled,
                Some(i) => i + 1,
                // A line longer than the buffer: grow it.
                None => {
                    self.buf.resize(self.buf.len() * 2, 0);
                    continue;
                }
            };
            let bytes = &self.buf[..complete];
            // UTF-8 checked once for the whole block (the usual case), else line by line.
            let whole = match self.enc {
                Encoding::Utf8 => std::str::from_utf8(bytes).ok(),
                _ => None,
            };
            let mut start = 0;
            while start < complete {
                let end = memchr::memchr(b'\n', &bytes[start..]).map_or(complete, |i| start + i);
                let mut e = end;
                if e > start && bytes[e - 1] == b'\r' {
                    e -= 1;
                }
                self.lineno += 1;
                let line = &bytes[start..e];
                // `\n` and `\r` are ASCII: the cuts fall on character boundaries.
                if let Some(l) = whole.and_then(|w| w.get(start..e)) {
                    if !is_comment(l) {
                        block.push(l, self.lineno);
                    }
                    start = end + 1;
                    continue;
                }
                match (&self.enc, std::str::from_utf8(line)) {
                    (Encoding::Utf8, Ok(l)) => {
                        if !is_comment(l) {
                            block.push(l, self.lineno);
                        }
                    }
                    _ => {
                        let l = decode(line, self.enc);
                        if !is_comment(&l) {
                            block.push(&l, self.lineno);
                        }
                    }
                }
                start = end + 1;
            }
            self.buf.copy_within(complete..self.filled, 0);
            self.filled -= complete;
            if !block.is_empty() || self.filled == 0 {
                return Ok(complete);
            }
        }
    }
}

fn verbose_time(t: f64) -> String {
    if t.is_nan() {
        return "None".into();
    }
    let ts = jiff::Timestamp::from_second(t as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    jiff::tz::TimeZone::system()
        .to_datetime(ts)
        .strftime("%a %b %d %H:%M:%S %Y")
        .to_string()
}

struct Paint {
    on: bool,
}

impl Paint {
    fn title(&self, s: &str) -> String {
        if self.on {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn num(&self, n: u64, colour: u8) -> String {
        if self.on && n > 0 {
            format!("\x1b[{colour}m{n}\x1b[0m")
        } else {
            n.to_string()
        }
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}...")
}

fn report(
    out: &mut dyn Write,
    args: &RegexArgs,
    s: &Setup,
    input: &Input,
    enc: Encoding,
    t: &Tally,
    elapsed: f64,
) -> io::Result<()> {
    let paint = Paint {
        on: io::stdout().is_terminal(),
    };
    let use_line = |out: &mut dyn Write, k: &str, v: &str| writeln!(out, "Use {k:>16} : {v}");
    writeln!(out)?;
    writeln!(out, "{}", paint.title("Running tests"))?;
    writeln!(out, "=============")?;
    writeln!(out)?;
    for (k, v) in &s.source.header {
        use_line(out, k, v)?;
    }
    if s.maxlines > 1 {
        use_line(out, "multi line", &format!("{} line(s)", s.maxlines))?;
    } else {
        use_line(out, "maxlines", "1")?;
    }
    let dp = match &s.datepattern {
        Some(p) if p.trim() != "{^LN-BEG}" => format!("{p} : {p}"),
        _ => "{^LN-BEG} : Default Detectors".to_owned(),
    };
    use_line(out, "datepattern", &dp)?;
    match input {
        Input::File(p, _) => {
            use_line(out, "log file", &p.display().to_string())?;
            use_line(
                out,
                "encoding",
                match enc {
                    Encoding::Utf8 => "UTF-8",
                    Encoding::Latin1 => "ISO-8859-1",
                },
            )?;
        }
        Input::Text(l) => use_line(out, "single line", &shorten(l, 50))?,
        Input::Journal(o) => journal::header(out, o)?,
    }
    writeln!(out)?;
    writeln!(out)?;
    writeln!(out, "{}", paint.title("Results"))?;
    writeln!(out, "=======")?;
    writeln!(out)?;
    let stats = s.pipeline.filter().stats();
    if let Some(p) = &s.source.spec.prefregex {
        writeln!(out, "Prefregex: {} total", stats.pref_matched)?;
        writeln!(out, "|  {}", jailor_match::expand_tags(p, s.usedns))?;
        writeln!(out, "`-")?;
        writeln!(out)?;
    }
    let total: u64 = t.fail_hits.iter().sum();
    writeln!(out, "Failregex: {} total", paint.num(total, 32))?;
    if total > 0 || args.verbose > 0 {
        writeln!(out, "|-  #) [# of hits] regular expression")?;
        for (i, (re, hits)) in s.failregex.iter().zip(&t.fail_hits).enumerate() {
            if *hits == 0 && args.verbose == 0 {
                continue;
            }
            writeln!(out, "|  {:>2}) [{hits}] {re}", i + 1)?;
            for h in t.verbose_hits.get(i).into_iter().flatten() {
                writeln!(out, "|      {h}")?;
            }
        }
        writeln!(out, "`-")?;
    }
    writeln!(out)?;
    let ihits = s.pipeline.filter().ignoreregex_hits();
    let itotal: u64 = ihits.iter().sum();
    writeln!(out, "Ignoreregex: {itotal} total")?;
    if itotal > 0 || (args.verbose > 0 && !s.ignoreregex.is_empty()) {
        writeln!(out, "|-  #) [# of hits] regular expression")?;
        for (i, (re, hits)) in s.ignoreregex.iter().zip(ihits).enumerate() {
            if *hits > 0 || args.verbose > 0 {
                writeln!(out, "|  {:>2}) [{hits}] {re}", i + 1)?;
            }
        }
        writeln!(out, "`-")?;
    }
    writeln!(out)?;
    writeln!(out, "Date template hits:")?;
    writeln!(out, "|- [# of hits] date format")?;
    for (name, hits) in s.pipeline.detector().hits() {
        writeln!(out, "|  [{hits}] {name}")?;
    }
    writeln!(out, "`-")?;
    writeln!(out)?;
    writeln!(
        out,
        "Lines: {} lines, {} ignored, {} matched, {} missed",
        t.lines,
        paint.num(t.ignored, 33),
        paint.num(t.matched, 32),
        paint.num(t.missed, 31)
    )?;
    writeln!(out, "[processed in {elapsed:.2} sec]")?;
    if stats.cut_lines > 0 || stats.limit_hits > 0 {
        writeln!(
            out,
            "[{} line(s) cut to the length cap, {} search(es) stopped at the backtracking limit]",
            stats.cut_lines, stats.limit_hits
        )?;
    }
    writeln!(out)?;
    if args.print_all_matched {
        list(out, "Matched", &t.matched_lines, t.matched, true, "")?;
    }
    if !args.print_no_ignored {
        list(
            out,
            "Ignored",
            &t.ignored_lines,
            t.ignored,
            args.print_all_ignored,
            "--print-all-ignored",
        )?;
    }
    if !args.print_no_missed {
        list(
            out,
            "Missed",
            &t.missed_lines,
            t.missed,
            args.print_all_missed,
            "--print-all-missed",
        )?;
    }
    Ok(())
}

fn list(
    out: &mut dyn Write,
    what: &str,
    lines: &[String],
    count: u64,
    all: bool,
    flag: &str,
) -> io::Result<()> {
    if count == 0 {
        return Ok(());
    }
    if !all && count as usize > PRINT_LIMIT {
        return writeln!(
            out,
            "{what} line(s): too many to print.  Use {flag} to print all {count} lines"
        );
    }
    writeln!(out, "|- {what} line(s):")?;
    for l in lines {
        writeln!(out, "|  {l}")?;
    }
    writeln!(out, "`-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_and_regexes_are_told_apart() {
        assert!(is_filter_name("sshd"));
        assert!(is_filter_name("sshd[mode=aggressive]"));
        assert!(is_filter_name("nginx-http-auth"));
        assert!(!is_filter_name("^Failed .* from <HOST>"));
        assert!(!is_filter_name("sshd[mode=x"));
    }

    #[test]
    fn now_accepts_epoch_and_dates() {
        assert_eq!(parse_now("1124013600").unwrap(), 1124013600.0);
        assert!(parse_now("2005-08-14 10:00:00").is_ok());
        assert!(parse_now("2005-08-14").is_ok());
        assert!(parse_now("yesterday").is_err());
    }

    #[test]
    fn ipv4_lines_are_written_as_displayed() {
        for a in ["0.0.0.0", "1.20.255.9", "255.255.255.255", "10.100.7.99"] {
            let id = jailor_match::FailureId::Addr(a.parse().unwrap());
            let mut out = Vec::new();
            write_id_line(&mut out, &id).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), format!("{a}\n"));
        }
        let v6 = jailor_match::FailureId::Addr("2001:db8::1".parse().unwrap());
        let mut out = Vec::new();
        write_id_line(&mut out, &v6).unwrap();
        assert_eq!(out, b"2001:db8::1\n");
    }

    #[test]
    fn blocks_with_a_bad_utf8_line_keep_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.log");
        std::fs::write(&path, b"one \xc3\xa9\r\n# comment\ntwo \xff\n\nthree").unwrap();
        for enc in [Encoding::Utf8, Encoding::Latin1] {
            let mut r = BlockReader::new(File::open(&path).unwrap(), enc);
            let mut block = LineBlock::default();
            r.fill(&mut block).unwrap();
            let got: Vec<(&str, u64)> = (0..block.len())
                .map(|i| (block.line(i), block.tag(i)))
                .collect();
            let want = match enc {
                Encoding::Utf8 => [("one é", 1), ("two \u{fffd}", 3), ("three", 5)],
                Encoding::Latin1 => [("one Ã©", 1), ("two ÿ", 3), ("three", 5)],
            };
            assert_eq!(got, want);
        }
        // All valid: the block is checked once and cut at its line ends.
        std::fs::write(&path, "a ü\nb\n").unwrap();
        let mut r = BlockReader::new(File::open(&path).unwrap(), Encoding::Utf8);
        let mut block = LineBlock::default();
        r.fill(&mut block).unwrap();
        assert_eq!(block.lines().collect::<Vec<_>>(), ["a ü", "b"]);
    }

    #[test]
    fn latin1_decodes_every_byte() {
        assert_eq!(decode(b"caf\xe9", Encoding::Latin1), "café");
        assert_eq!(decode(b"caf\xe9", Encoding::Utf8), "caf\u{fffd}");
    }
}
