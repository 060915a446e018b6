//! Reads a `/metrics` answer as Prometheus would, checked against the OpenMetrics text
//! format's rules: sample syntax (names, quoted and escaped label values, values including
//! `+Inf`), families declared before their samples and never split, sample names that belong
//! to their family's type (`_total` for counters; `_bucket`, `_sum`, `_count` for histograms),
//! cumulative histogram buckets ending in `+Inf` and equal to `_count`, and `# EOF` last.
//!
//! Written against the specification rather than with a parser crate: the one on crates.io
//! (`prometheus-parse` 0.2) drops every sample whose label value holds a `}`, and route
//! templates such as `/api/v1/doors/{id}` do.

use std::collections::{BTreeMap, HashSet};

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample's full name, e.g. `latchkey_http_requests_total`.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of a scrape, in order.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

/// Checks `text` and parses it.
///
/// # Panics
/// With the offending line, when `text` breaks one of the rules.
pub fn parse(text: &str) -> Scrape {
    check(text).unwrap_or_else(|e| panic!("not valid OpenMetrics text: {e}\n{text}"))
}

/// The value of the sample named `name` whose labels include `labels`.
pub fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Splits a sample line into its name, labels and value.
fn sample(line: &str) -> Result<(&str, BTreeMap<String, String>, f64), String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("no value: {line}"))?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name: {line}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut end = None;
        loop {
            let start = match chars.peek() {
                Some((_, '}')) => {
                    end = chars.next().map(|(i, _)| i);
                    break;
                }
                Some((i, _)) => *i,
                None => break,
            };
            let eq = inner[start..]
                .find("=\"")
                .ok_or_else(|| format!("bad label: {line}"))?;
            let key = &inner[start..start + eq];
            if !valid_name(key) || labels.contains_key(key) {
                return Err(format!("bad or repeated label name `{key}`: {line}"));
            }
            while chars.peek().is_some_and(|(i, _)| *i < start + eq + 2) {
                chars.next();
            }
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => v.push('\n'),
                        Some((_, c @ ('\\' | '"'))) => v.push(c),
                        _ => return Err(format!("bad escape: {line}")),
                    },
                    Some((_, '"')) => break,
                    Some((_, c)) => v.push(c),
                    None => return Err(format!("unterminated label value: {line}")),
                }
            }
            labels.insert(key.to_owned(), v);
            if chars.peek().is_some_and(|(_, c)| *c == ',') {
                chars.next();
            }
        }
        let end = end.ok_or_else(|| format!("unterminated labels: {line}"))?;
        rest = &inner[end + 1..];
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value: {line}"))?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse::<f64>()
            .map_err(|_| format!("bad value `{v}`: {line}"))?,
    };
    Ok((name, labels, value))
}

/// The suffixes a sample of a family of type `ty` may add to the family's name.
fn suffixes(ty: &str) -> &'static [&'static str] {
    match ty {
        "counter" => &["_total", "_created"],
        "histogram" => &["_bucket", "_sum", "_count", "_created"],
        "gauge" | "unknown" => &[""],
        _ => &[],
    }
}

fn check(text: &str) -> Result<Scrape, String> {
    let mut scrape = Scrape::default();
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the text does not end with `# EOF`")?;
    let mut seen: HashSet<String> = HashSet::new();
    // The current family: its name and type.
    let mut family: Option<(String, String)> = None;
    // Per histogram series (labels without `le`): the last cumulative bucket, and `_count`.
    let mut buckets: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for line in body.lines() {
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            match kind {
                "TYPE" => {
                    let ty = parts.next().unwrap_or("");
                    if suffixes(ty).is_empty() {
                        return Err(format!("unknown type: {line}"));
                    }
                    if !seen.insert(name.to_owned()) {
                        return Err(format!("family declared twice: {line}"));
                    }
                    histogram_ends(&mut buckets, &mut counts)?;
                    family = Some((name.to_owned(), ty.to_owned()));
                }
                "HELP" | "UNIT" if valid_name(name) => {}
                _ => return Err(format!("bad comment line: {line}")),
            }
            continue;
        }
        let (name, mut labels, v) = sample(line)?;
        scrape.samples.push(Sample {
            name: name.to_owned(),
            labels: labels.clone(),
            value: v,
        });
        let (fam, ty) = family
            .as_ref()
            .ok_or_else(|| format!("a sample before any TYPE: {line}"))?;
        let suffix = name
            .strip_prefix(fam.as_str())
            .filter(|s| suffixes(ty).contains(s))
            .ok_or_else(|| format!("`{name}` does not belong to the {ty} family `{fam}`"))?;
        if ty == "counter" && suffix == "_total" && v < 0.0 {
            return Err(format!("a negative counter: {line}"));
        }
        if ty == "histogram" {
            let le = labels.remove("le");
            let series = format!("{labels:?}");
            match (suffix, le) {
                ("_bucket", Some(le)) => {
                    let le: f64 = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().map_err(|_| format!("bad le: {line}"))?
                    };
                    let (last_le, last_n) = buckets
                        .get(&series)
                        .copied()
                        .unwrap_or((f64::NEG_INFINITY, 0.0));
                    if le <= last_le || v < last_n {
                        return Err(format!("buckets not cumulative and ascending: {line}"));
                    }
                    buckets.insert(series, (le, v));
                }
                ("_bucket", None) => return Err(format!("a bucket without le: {line}")),
                ("_count", None) => {
                    counts.insert(series, v);
                }
                (_, None) => {}
                (_, Some(_)) => return Err(format!("le on a non-bucket sample: {line}")),
            }
        }
    }
    histogram_ends(&mut buckets, &mut counts)?;
    Ok(scrape)
}

/// At the end of a histogram family: each series' buckets end at `+Inf`, whose count is the
/// series' `_count`.
fn histogram_ends(
    buckets: &mut BTreeMap<String, (f64, f64)>,
    counts: &mut BTreeMap<String, f64>,
) -> Result<(), String> {
    for (series, (le, n)) in std::mem::take(buckets) {
        if !le.is_infinite() {
            return Err(format!("the buckets of {series} do not end at +Inf"));
        }
        if counts.remove(&series) != Some(n) {
            return Err(format!("the _count of {series} is not its +Inf bucket"));
        }
    }
    match counts.keys().next() {
        Some(series) => Err(format!("{series} has a _count but no buckets")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_refuses_what_the_specification_refuses() {
        let good = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
                    a_requests_total{route=\"/x\",m=\"a\\\"b\"} 3\n\
                    # TYPE h histogram\nh_sum 1.5\nh_bucket{le=\"0.5\"} 1\n\
                    h_bucket{le=\"+Inf\"} 2\nh_count 2\n# EOF\n";
        check(good).expect("valid");
        for bad in [
            good.replace("# EOF\n", ""),
            good.replace("a_requests_total", "a_request_total"),
            good.replace("h_count 2", "h_count 3"),
            good.replace("h_bucket{le=\"+Inf\"} 2", "h_bucket{le=\"+Inf\"} 0"),
            good.replace("# TYPE h histogram\n", "# TYPE a_requests gauge\n"),
            good.replace("} 3", "}3"),
        ] {
            assert!(check(&bad).is_err(), "accepted:\n{bad}");
        }
    }
}
