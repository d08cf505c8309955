//! Charts drawn on the server as SVG: readable without JavaScript, the same for every browser,
//! and testable as text. A chart is one series as an area with a line (its scale on the left),
//! and optionally a second as a dashed line (its own scale on the right).

use std::fmt::Write;

/// Width and height of the drawing, in SVG units (it scales to its box).
const W: f64 = 720.0;
const H: f64 = 220.0;
/// Room for the axes' labels.
const LEFT: f64 = 52.0;
const RIGHT: f64 = 52.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A series: its name and one value per label.
#[derive(Debug, Clone)]
pub struct Series {
    /// Name, for the legend and the accessible description.
    pub name: String,
    /// Values, one per x label.
    pub values: Vec<f64>,
}

/// A chart ready for a template.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The `viewBox`.
    pub view_box: String,
    /// The accessible summary (`<title>`).
    pub summary: String,
    /// The first series' area path and line points.
    pub area: String,
    /// Its line.
    pub line: String,
    /// The second series' line, if any.
    pub line2: Option<String>,
    /// Horizontal grid lines with their left (and right) labels: (y, left, right).
    pub ticks: Vec<(f64, String, String)>,
    /// X labels: (x, text).
    pub labels: Vec<(f64, String)>,
    /// The series' names.
    pub names: (String, Option<String>),
    /// Where the plot area starts and ends (for grid lines).
    pub x0: f64,
    /// End of the plot area.
    pub x1: f64,
}

/// A "nice" upper bound for a scale: 1, 2 or 5 times a power of ten, at least `max`.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= max {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// A tick's text: whole numbers with k/M, small values with decimals.
fn tick_text(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{}M", trim(v / 1_000_000.0))
    } else if v >= 1_000.0 {
        format!("{}k", trim(v / 1_000.0))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let text = format!("{v:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl Chart {
    /// Draws `first` (and `second`) over `labels`; at most about eight labels are written.
    pub fn new(labels: &[String], first: Series, second: Option<Series>) -> Self {
        let n = labels.len().max(1);
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        let x = |i: usize| if n == 1 { LEFT + plot_w / 2.0 } else { LEFT + plot_w * i as f64 / (n - 1) as f64 };
        let scale = |s: &Series| nice_max(s.values.iter().copied().fold(0.0, f64::max));
        let max1 = scale(&first);
        let y = |v: f64, max: f64| TOP + plot_h - (v.max(0.0) / max) * plot_h;
        let mut line = String::new();
        for (i, v) in first.values.iter().enumerate() {
            let _ = write!(line, "{}{:.1},{:.1}", if i == 0 { "" } else { " " }, x(i), y(*v, max1));
        }
        let area = if first.values.is_empty() {
            String::new()
        } else {
            let base = TOP + plot_h;
            format!("M{:.1},{base:.1} L{} L{:.1},{base:.1} Z", x(0), line.replace(' ', " L"), x(first.values.len() - 1))
        };
        let max2 = second.as_ref().map(scale);
        let line2 = second.as_ref().zip(max2).map(|(s, max)| {
            let mut out = String::new();
            for (i, v) in s.values.iter().enumerate() {
                let _ = write!(out, "{}{:.1},{:.1}", if i == 0 { "" } else { " " }, x(i), y(*v, max));
            }
            out
        });
        let ticks = (0..=4)
            .map(|k| {
                let f = f64::from(k) / 4.0;
                let right = max2.map(|m| tick_text(m * f)).unwrap_or_default();
                (TOP + plot_h - f * plot_h, tick_text(max1 * f), right)
            })
            .collect();
        let every = n.div_ceil(8).max(1);
        let labels =
            labels.iter().enumerate().filter(|(i, _)| i % every == 0).map(|(i, l)| (x(i), l.clone())).collect();
        let total = |s: &Series| s.values.iter().sum::<f64>();
        let summary = match &second {
            Some(s) => format!(
                "{} (total {}) and {} (total {}) over {n} periods",
                first.name,
                tick_text(total(&first)),
                s.name,
                tick_text(total(s))
            ),
            None => format!("{} over {n} periods, total {}", first.name, tick_text(total(&first))),
        };
        Self {
            view_box: format!("0 0 {W} {H}"),
            summary,
            area,
            line,
            line2,
            ticks,
            labels,
            names: (first.name, second.map(|s| s.name)),
            x0: LEFT,
            x1: W - RIGHT,
        }
    }

    /// The y of the labels under the plot.
    pub fn label_y(&self) -> f64 {
        H - 8.0
    }

    /// Where the right-hand labels start.
    pub fn right_x(&self) -> f64 {
        W - RIGHT + 6.0
    }

    /// Where the left-hand labels end.
    pub fn left_x(&self) -> f64 {
        LEFT - 6.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(1_234.0), 2_000.0);
        assert_eq!(nice_max(0.3), 0.5);
        assert_eq!(tick_text(2_500.0), "2.5k");
        assert_eq!(tick_text(0.25), "0.25");
    }

    #[test]
    fn a_chart_draws_every_point() {
        let labels: Vec<String> = (1..=30).map(|d| format!("11-{d:02}")).collect();
        let clicks = Series { name: "Clicks".into(), values: (0..30).map(f64::from).collect() };
        let conv = Series { name: "Conversions".into(), values: vec![1.0; 30] };
        let c = Chart::new(&labels, clicks, Some(conv));
        assert_eq!(c.line.split(' ').count(), 30);
        assert!(c.area.starts_with('M') && c.area.ends_with('Z'));
        assert_eq!(c.line2.as_deref().map(|l| l.split(' ').count()), Some(30));
        assert!(c.labels.len() <= 8 && !c.labels.is_empty());
        assert!(c.summary.contains("Clicks (total 435)"), "{}", c.summary);
        let empty = Chart::new(&[], Series { name: "x".into(), values: vec![] }, None);
        assert!(empty.area.is_empty() && empty.line.is_empty());
    }
}
